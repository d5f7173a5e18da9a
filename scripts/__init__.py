"""Developer scripts behind `make run` and `make test`."""
