"""The llama.cpp server runtime: llama-server (or a llamafile) built, started, watched and
asked, with its prompt cache and kept generations."""
