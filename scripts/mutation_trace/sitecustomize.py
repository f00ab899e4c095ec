"""Starts scripts/mutation_trace/mutation_trace.py in every process while a module is traced."""
import mutation_trace

mutation_trace.install()
