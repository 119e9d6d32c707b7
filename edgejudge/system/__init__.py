"""This machine: hardware facts (cores, memory, GPU) and `edgejudge doctor`."""
