"""Helpers of bench/real_data.py: corpus conversion, reference baselines, runs, tables."""
