"""DistributedDataParallel over 2 real MPI ranks: equal to one process on the whole batch."""
import pytest

from mpi_jobs import passed


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_lm_20_steps_equals_one_process_on_the_whole_batch(launch, dtype):
    assert passed(launch("ddp_lstm.py", dtype))


def test_buckets_no_sync_and_unused_parameters(launch):
    assert passed(launch("ddp_buckets.py"))


def test_mismatched_models_are_refused_on_every_rank(launch):
    assert passed(launch("ddp_mismatch.py"))


def test_a_failing_rank_ends_the_job_and_is_named(launch):
    result = launch("fault.py", timeout=60)  # a hang would raise TimeoutExpired
    assert result.returncode != 0
    assert "minigrad.distributed: rank 1 of 2 failed with ZeroDivisionError: rank 1's data " \
           "was bad; ending all ranks" in result.stderr
    assert "unreachable" not in result.stdout
