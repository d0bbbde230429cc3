"""headwater serve: the prediction API and the dashboard (issue #16)."""
