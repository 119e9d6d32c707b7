"""The in-process runtime: a GGUF file loaded through llama-cpp-python's bindings, its
decoding loop, prefix cache, samplers and kept generations."""
