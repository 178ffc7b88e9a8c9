"""Tables larger than memory: a DuckDB data layer and estimators that stream sufficient statistics."""
from causal_core.outofcore.source import TableSource, open_query, open_table, partitions, preview, profile, resolve_under, sample
from causal_core.outofcore.streamed import STREAMED_METHODS, StreamedEstimate, estimate_large, streamed_estimate
from causal_core.outofcore.tables import streamed_balance_table, streamed_subgroup_table

__all__ = ["TableSource", "open_query", "open_table", "partitions", "preview", "profile", "resolve_under", "sample",
           "STREAMED_METHODS", "StreamedEstimate", "estimate_large", "streamed_estimate",
           "streamed_balance_table", "streamed_subgroup_table"]
