"""edgejudge's pytest plugin on a small suite: run it from the repository's root with

    pytest examples/pytest --edgejudge-model demo \
        --edgejudge-metric response-faithfulness-5point --edgejudge-max-tokens 64

`demo` is a base model standing in for a judge (it runs anywhere, offline); name a real
judge such as flow-judge-v0.1 to grade for real. The test of the unfaithful answer is
meant to fail: its message shows the score, the rubric row and the feedback.
"""

CONTEXT = "Paris is the capital and most populous city of France."
QUERY = "What is the capital of France?"


def test_a_faithful_answer(judge):
    judge.assert_verdict(
        {"query": QUERY, "context": CONTEXT, "response": "The capital of France is Paris."},
        at_least=1,
    )


def test_an_unfaithful_answer_is_caught(judge):
    judge.assert_verdict(
        {"query": QUERY, "context": CONTEXT, "response": "The capital of France is Lyon."},
        at_least=4,
    )


def test_a_batch_in_the_runtime_slots(judge):
    answers = ["Paris.", "It is Paris, the largest city of France.", "Marseille."]
    results = judge.evaluate_many(
        [{"query": QUERY, "context": CONTEXT, "response": a} for a in answers]
    )
    assert all(1 <= r.score <= 5 for r in results)


def test_a_pass_fail_metric(judge):
    judge.assert_verdict(
        {"query": QUERY, "context": CONTEXT, "response": "Paris."},
        metric="response-faithfulness-binary",
        label="PASS",
    )
