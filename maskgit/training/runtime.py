"""Where training runs: one process or several under torchrun (DDP), CPU or GPU, fp32 or bf16."""

from __future__ import annotations

import ctypes
import os
import random
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from maskgit.errors import ConfigError


@dataclass(frozen=True)
class Runtime:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def mean(self, value: float) -> float:
        """The mean of a float over all processes."""
        if not self.distributed:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        return float(t.item()) / self.world_size


DEVICES = ("auto", "cpu", "cuda")


def start_runtime(device: str = "auto") -> Runtime:
    """Join the process group when started by torchrun (gloo on CPU, NCCL on GPU); else a single process.

    device: "auto" (a GPU per process when there are GPUs, else the CPU), "cuda" or "cpu". More processes
    per machine than GPUs is a ConfigError that says what to do.
    """
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "cuda" and gpus == 0:
        raise ConfigError("device is cuda but this machine has no CUDA GPU: set device=cpu (or auto)")
    cuda = device != "cpu" and gpus > 0
    if cuda and local_world > gpus:
        raise ConfigError(
            f"torchrun started {local_world} processes on this machine but it has {gpus} GPU(s): use "
            f"--nproc_per_node={gpus}, or train on the CPU with --set device=cpu"
        )
    device_ = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device_)
    else:
        keep_freed_memory()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return Runtime(rank=rank, world_size=world, device=device_)


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to serve blocks up to 32 MB (its cap) from the heap and never to give the heap back, so
    that the big temporaries of a CPU training step reuse pages already mapped instead of faulting in fresh ones
    every step (torch's CPU allocator is malloc). Measured (docs/benchmarks.md): minor page faults of the emoji
    stage-2 step 21,000 -> 8,500, the step about 4% faster; the FID Inception 86-89 -> 80-81 ms an image. True when
    set; False where the C library is not glibc (macOS, musl), which changes nothing else."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


def stop_runtime() -> None:
    """Leave the process group together: a process exiting while another still talks to it can abort."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast(dtype: torch.dtype | None, device: torch.device) -> AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def step_generator(seed: int, step: int, rank: int, micro: int = 0) -> torch.Generator:
    """A generator for one micro-step's random choices (masks, flips), independent of resumes and batching."""
    return torch.Generator().manual_seed((((seed * 1_000_003 + step) * 1_009 + rank) * 101 + micro) % 2**64)
