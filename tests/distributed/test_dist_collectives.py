"""Collectives over 2 real MPI ranks; process-group errors that need no launcher."""
import pytest

import minigrad as mg
import minigrad.distributed as dist
from mpi_jobs import passed


def test_every_op_and_dtype_on_two_ranks(launch):
    assert passed(launch("collectives.py"))


def test_three_ranks(launch):
    assert passed(launch("collectives.py", ranks=3), ranks=3)


def test_collectives_need_an_initialized_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="process group is not initialized; call"):
        dist.all_reduce(mg.ones(2))
    with pytest.raises(RuntimeError, match="needs the default process group"):
        mg.nn.parallel.DistributedDataParallel(mg.nn.Linear(2, 2))


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match=r"unknown backend 'gloo'; choose one of \('mpi', "):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


def test_importing_minigrad_does_not_import_mpi4py():
    import subprocess
    import sys
    code = "import sys, minigrad, minigrad.nn; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_nccl_refuses_two_ranks_on_one_gpu_with_the_reason():
    from minigrad.distributed.nccl_backend import shared_gpus
    assert shared_gpus([("a", 0), ("a", 1), ("b", 0), ("b", 1)]) is None
    message = shared_gpus([("a", 0), ("a", 1), ("a", 0), ("b", 0), ("a", 0)])
    assert message.startswith("the 'nccl' backend needs a GPU of its own for each rank, but "
                              "ranks 0, 2, 4 all use GPU 0 of host 'a'")
    assert "or use the 'mpi' backend" in message
