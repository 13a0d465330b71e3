"""Scale-out: shards of large runs, the local process pool and Dask, resource estimates."""
