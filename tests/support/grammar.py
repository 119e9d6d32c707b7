"""Whether a grammar admits a text, asked of the real llama.cpp grammar engine."""

from __future__ import annotations

import ctypes
import math


def admits(runtime: object, grammar: str, text: str) -> bool:
    """Whether llama.cpp's grammar sampler lets `text` through and then allows end-of-text."""
    import llama_cpp

    vocab = runtime._vocab  # type: ignore[attr-defined]
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    assert sampler, "llama.cpp refused the grammar"

    def allowed(token: int) -> bool:
        data = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
        array = llama_cpp.llama_token_data_array(data, 1, -1, False)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
        return not math.isinf(data[0].logit)

    try:
        for token in runtime.text_tokens(text):  # type: ignore[attr-defined]
            if not allowed(token):
                return False
            llama_cpp.llama_sampler_accept(sampler, token)
        return allowed(llama_cpp.llama_vocab_eos(vocab))
    finally:
        llama_cpp.llama_sampler_free(sampler)
