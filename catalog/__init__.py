"""Market data ingest: validated bars and instrument definitions into a nautilus ParquetDataCatalog.

The lowest layer of the project: it imports nautilus_trader, polars and msgspec, never another
package of ours. Entry points: `catalog.config.load_catalog_config`, `catalog.ingest.ingest`
(CLI ``python -m catalog.ingest --config configs/catalog/sample.toml``),
`catalog.validate.validate_bars` and `catalog.instruments.build_instrument`.
"""
