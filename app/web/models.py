"""Request bodies of the API: enums for the choices, so a 422 lists them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..sandbox.limits import MINIMUM
from ..sandbox.protocol import MAX_DELAY_MS, PaceMode, Stdio, UserSignal

MAX_SOURCE = 256 * 1024  # one file or stdin, in characters (bytes are checked in submission.py)
MAX_FILES = 32


class PaceRequest(BaseModel):
    mode: PaceMode
    delay_ms: int | None = Field(default=None, ge=0, le=MAX_DELAY_MS)


class LimitsRequest(BaseModel):
    """Limits a run asks for; each at most the server's maximum (checked in submission.py). Strict: "5" or
    true is not a number of seconds (a whole number is fine where a fraction may be)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    wall_s: float | None = Field(default=None, ge=MINIMUM["wall_s"])
    cpu_s: float | None = Field(default=None, ge=MINIMUM["cpu_s"])
    processes: int | None = Field(default=None, ge=1)
    memory_mb: int | None = Field(default=None, ge=MINIMUM["memory_mb"])
    output_kb: int | None = Field(default=None, ge=1)
    output_rate_kbps: int | None = Field(default=None, ge=1)
    files_mb: int | None = Field(default=None, ge=1)
    fds: int | None = Field(default=None, ge=8)
    leftover_s: float | None = Field(default=None, gt=0)


class RunRequest(BaseModel):
    lesson: str | None = Field(default=None, max_length=200)
    files: dict[str, str] | None = Field(default=None, max_length=MAX_FILES,
                                         description="file name -> content; names are plain (no /, no NUL)")
    main: str | None = Field(default=None, max_length=255)
    stdin: str | None = Field(default=None, max_length=MAX_SOURCE)
    limits: LimitsRequest | None = None
    pace: PaceRequest | None = Field(default=None, description="start paced (e.g. step mode from the first call)")
    stdio: Stdio | None = Field(default=None, description="stdout buffering: terminal (line-buffered, the default) "
                                "or pipe (fully buffered); the lesson's setting when not given")
    exercise: str | None = Field(default=None, max_length=200,
                                 description="an exercise of the lesson: run.finished carries its goals; without "
                                 "files[main] the exercise's starter runs")


class SignalRequest(BaseModel):
    pid: int = Field(ge=1, le=2**22)
    signal: UserSignal


class InputRequest(BaseModel):
    text: str = Field(max_length=65536)
    eof: bool = False


class FileContent(BaseModel):
    content: str = Field(max_length=MAX_SOURCE)


class RoomRequest(BaseModel):
    title: str | None = Field(default=None, max_length=200)
