"""Metrics for every task (error rates, phone metrics, classification), shared tables and the figures."""
