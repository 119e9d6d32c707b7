"""edgejudge inside the eval frameworks teams already use: DeepEval (`deepeval.py`) and
Inspect (`inspect_ai.py`); the pytest plugin is `edgejudge.integrations.pytest`. Each is a thin
shell over `Judge`, imported only where used."""
