"""Serving engines (vLLM, SGLang, TGI, Ollama, a llama-server at a URL): HTTP, what each
engine reads and answers, the remote runtime and a pool of servers."""
