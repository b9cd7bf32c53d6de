"""Clustering over embedding arrays: kNN graph, the Hi-LANDER hierarchy, baselines, metrics. No database, no Qt."""
