"""hall: a lecture hall — one room of many students watching the instructor's run (issue 16).

Targets: 0 events lost, the server under one core; memory per student reported. The run and the
clients are those of `bench classroom` (room path); the server's memory is sampled every 50 ms.
"""

from __future__ import annotations

import threading
import time

import psutil

from .classroom import TOKEN, broadcast
from .common import Result, Server, summary
from .sizes import Sizes


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return


def run(sizes: Sizes) -> Result:
    n = sizes.hall_students
    res = Result("hall", f"Lecture hall: one room of {n} students watching one run",
                 method=(f"The run of `bench classroom` ({sizes.class_s:g} s of output and pipe traffic) started by "
                         f"the instructor in a room; {n} WebSocket clients (the `websockets` library, spread over "
                         f"{sizes.hall_procs} processes) follow /ws/rooms/{{code}}. Lost = seqs a client never got. "
                         "Server memory: resident set before the clients connect and its peak while they watch; per "
                         "student = the difference / students (an upper bound: it includes the run's event buffer)."))
    with Server(env={"PROCLAB_INSTRUCTOR_TOKEN": TOKEN}, name="hall") as server:
        server.check_runs()
        time.sleep(1)
        rss = PeakRss(server.pid)
        base = rss.peak
        rss.start()
        d = broadcast(server, n, sizes.hall_procs, sizes.class_s, room=True)
        rss.stopped.set()
        rss.join()
    delay = summary(d["delay_ms"])
    res.add("events lost (sum over students)", d["lost"], "", f"{d['events']} events; duplicates: {d['duplicates']}; "
            f"students missing any: {d['clients_missing_events']}; errors: {d['client_errors']}", "0",
            d["lost"] == 0 and d["client_errors"] == 0 and d["duplicates"] == 0)
    res.add("server CPU while broadcasting", d["server_cpu_share"] * 100, "% of a core",
            f"client processes: {' + '.join(f'{c:.1f}' for c in d['client_cpu_s'])} s over {d['wall_s']:.1f} s",
            "< 100 % of a core", d["server_cpu_share"] < 1.0)
    res.add("server memory per student", (rss.peak - base) / n / 1024, "KiB",
            f"resident {base / 2**20:.0f} MiB before, peak {rss.peak / 2**20:.0f} MiB")
    res.add("delivery delay, median / p99", f"{delay['median']:.0f} / {delay['p99']:.0f}", "ms",
            "set by the clients sharing the two cores with the server")
    res.raw = {k: v for k, v in d.items() if k != "delay_ms"}
    return res
