"""First checks that the real-SSH harness works."""

def test_status_three_nodes(pool):
    run = pool.cli("status")
    print(run.out, run.err)
    assert run.status == 0
