"""Experiments: validated configs, single runs, Monte Carlo studies, reports and the CLI."""
