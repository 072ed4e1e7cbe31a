"""Six pages whose diagrams sit where a naive scan misses them, for ``-j 2`` (D17)."""

extensions = ["model_diagram"]
exclude_patterns = ["_build"]
