"""How much each benchmark does. `Sizes()` is the full suite; `Sizes.tiny()` proves the code works."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sizes:
    starts: int = 30  # 1. runs (and cold starts) for the start latency
    delay_phase_ms: int = 200  # 2. ground-truth phase length
    delay_cycles: int = 25  # 2. busy -> sleep -> pipe cycles
    fid_cycles_20: int = 30  # 3. cycles of 20 ms phases
    fid_cycles_5: int = 60  # 3. cycles of 5 ms phases
    spinners: int = 4  # 3. processes pinned to one CPU
    short_lived: int = 30  # 3. processes per lifetime started from C
    spin_s: float = 1.5
    cost_procs: int = 10  # 3. processes in the sampler-cost run
    cost_s: float = 3.0
    clients: int = 200  # 4. WebSocket clients of one run
    client_procs: int = 2  # 4. client processes they are spread over
    class_s: float = 5.0  # 4. how long the broadcast run produces events
    concurrent: int = 40  # 5. lesson runs started together
    mem_ws: int = 200  # 6. idle WebSockets
    mem_runs: int = 8  # 6. active runs
    bombs: int = 5  # 7. fork bomb repetitions
    hostile_s: float = 10.0  # 7. how long four hostile runs are kept going
    layer_starts: int = 20  # 7. starts per layer configuration
    c_starts: int = 20  # 8. C runs (and plain gcc + run) for the C start latency
    burst_students: int = 60  # classroom burst: students pressing Run within a second
    hall_students: int = 1000  # lecture hall: students watching one run in a room
    hall_procs: int = 4  # client processes they are spread over
    hall_stalled: int = 10  # lecture hall: students whose browser stops reading
    storage_batches: int = 400  # storage: append_events calls of 50 events per writer
    storage_writers: int = 4  # storage: writers at once (threads, one run each)
    cluster_students: int = 600  # several nodes: students of one room spread over three nodes

    @classmethod
    def tiny(cls) -> Sizes:
        return cls(starts=3, delay_phase_ms=50, delay_cycles=2, fid_cycles_20=3, fid_cycles_5=3, spinners=2, short_lived=3,
                   spin_s=0.3, cost_procs=3, cost_s=0.5, clients=5, client_procs=1, class_s=0.5, concurrent=3,
                   mem_ws=5, mem_runs=1, bombs=1, hostile_s=1.0, layer_starts=2, c_starts=2, burst_students=5,
                   hall_students=10, hall_procs=1, hall_stalled=2,
                   storage_batches=5, storage_writers=2, cluster_students=6)
