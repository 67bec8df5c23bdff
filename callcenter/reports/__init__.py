"""Reports over any period, aggregated in SQL."""
