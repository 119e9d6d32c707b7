"""The preset metrics: the nine of Flow-Judge, worded exactly as the reference `flow-judge`
0.1.2, and `hallucination-detection`, edgejudge's own, for Root Judge's one published task;
the conversation and tool-call metrics (`CONVERSATION_PRESETS`), edgejudge's own wording; and
the pairwise metrics (`PAIRWISE_PRESETS`), edgejudge's own criteria lines.

The Flow-Judge criteria and rubric texts are the ones Flow-Judge-v0.1 was trained and
evaluated with; changing a character changes the judge, so tests compare them against the
reference package (`FLOW_JUDGE_PRESETS`).
"""

from __future__ import annotations

from edgejudge.core.metrics import Metric, PairwiseMetric, RubricItem


def _metric(
    name: str,
    title: str,
    criteria: str,
    inputs: list[str],
    rubric: dict[int, str],
    output: str = "response",
) -> Metric:
    return Metric(
        name=name,
        title=title,
        criteria=criteria,
        rubric=tuple(RubricItem(score=s, description=d) for s, d in rubric.items()),
        required_inputs=tuple(inputs),
        required_output=output,
    )


PRESETS: dict[str, Metric] = {}

PRESETS["response-correctness-binary"] = _metric(
    "response-correctness-binary",
    "Response Correctness (Binary)",
    (
        "Does the generated response accurately match the provided reference answer for the "
        "given query?"
    ),
    ["query", "reference_answer"],
    {
        0: (
            "The generated response does not match the reference answer. It either contains "
            "inaccurate information, is missing key details from the reference, includes extra "
            "information not in the reference, or fails to convey the same meaning as the "
            "reference answer."
        ),
        1: (
            "The generated response matches the reference answer exactly or contains all the "
            "key information from the reference with no inaccuracies, extra details, or missing "
            "details. The meaning conveyed by the generated response is equivalent to the "
            "reference."
        ),
    },
)

PRESETS["response-correctness-3point"] = _metric(
    "response-correctness-3point",
    "Response Correctness (3-point Likert)",
    (
        "Based on the provided reference response, how well does the system's generated "
        "response match the correct answer to the given query?"
    ),
    ["query", "reference_answer"],
    {
        1: (
            "The generated response does not match the reference response at all. It either "
            "fails to address the query or provides a completely incorrect answer."
        ),
        2: (
            "The generated response partially matches the reference response. It addresses the "
            "query but may contain some incorrect, irrelevant or incomplete information "
            "compared to the reference."
        ),
        3: (
            "The generated response fully matches the reference response. It accurately and "
            "completely answers the query, containing all the relevant information from the "
            "reference without any incorrect or extraneous details."
        ),
    },
)

PRESETS["response-correctness-5point"] = _metric(
    "response-correctness-5point",
    "Response Correctness (5-point Likert)",
    (
        "Compare the system's response to the provided reference answer and rate how well they "
        "match in accuracy and completeness to answer the query."
    ),
    ["query", "reference_answer"],
    {
        1: (
            "The response is completely incorrect or irrelevant to the query, with no overlap "
            "in information with the reference answer."
        ),
        2: (
            "The response contains some correct information relevant to the query but is "
            "substantially incomplete or inaccurate compared to the reference answer."
        ),
        3: (
            "The response answers the query with reasonable accuracy but is missing key details "
            "or has minor inaccuracies compared to the reference."
        ),
        4: (
            "The response accurately answers the query and is nearly complete, only leaving out "
            "non-essential details compared to the reference."
        ),
        5: (
            "The response perfectly matches the accuracy and level of detail of the reference "
            "answer, containing all key information to comprehensively answer the query."
        ),
    },
)

PRESETS["response-faithfulness-binary"] = _metric(
    "response-faithfulness-binary",
    "Response Faithfulness (Binary)",
    (
        "Based on the provided context, does the response contain only information that is "
        "supported by or directly inferable from the context?"
    ),
    ["query", "context"],
    {
        0: (
            "The response contains statements or claims that cannot be directly found in or "
            "logically inferred from the provided context. There is hallucinated or fabricated "
            "information present in the response that does not have support in the given "
            "context."
        ),
        1: (
            "The response contains only statements and claims that are directly stated in or "
            "logically inferable from the provided context. There is no hallucinated or "
            "fabricated information present in the response that cannot be traced back to or "
            "deduced from the context."
        ),
    },
)

PRESETS["response-faithfulness-3point"] = _metric(
    "response-faithfulness-3point",
    "Response Faithfulness (3-point Likert)",
    (
        "Based on the provided context, assess how faithful and consistent the response is to "
        "the information given. Check if the response contains any fabricated or hallucinated "
        "content that cannot be supported by the context."
    ),
    ["query", "context"],
    {
        1: (
            "The response contains significant amount of fabricated information or unsupported "
            "claims that directly contradict or deviate from the given context. Major "
            "hallucinations are present that are not factual based on the context provided."
        ),
        2: (
            "The response is mostly faithful to the context, but contains some minor "
            "unsupported details or slight factual inconsistencies. While the overall message "
            "is supported, there are a few deviations that are not directly inferable from the "
            "strict context alone."
        ),
        3: (
            "The response is completely faithful and consistent with the context provided. All "
            "details and claims are directly supported by the information given, without any "
            "hallucinated or fabricated content present. The response accurately represents "
            "only the facts in the context."
        ),
    },
)

PRESETS["response-faithfulness-5point"] = _metric(
    "response-faithfulness-5point",
    "Response Faithfulness (5-point Likert)",
    (
        "Based on the given context, evaluate how consistent and faithful the generated "
        "response is to the context. The response should not contain any hallucinated or "
        "fabricated information that is not supported by the context."
    ),
    ["query", "context"],
    {
        1: (
            "The response is completely inconsistent with the provided context. It contains "
            "significant amount of hallucinated or fabricated information that directly "
            "contradicts or is not supported at all by the context."
        ),
        2: (
            "The response is mostly inconsistent with the provided context. While it may "
            "contain some information from the context, it introduces a substantial amount of "
            "hallucinated or fabricated details that deviate from the context."
        ),
        3: (
            "The response is somewhat consistent with the provided context. It includes a mix "
            "of information from the context and some hallucinated or fabricated details. The "
            "fabrications are minor and do not significantly contradict the context."
        ),
        4: (
            "The response is mostly consistent with the provided context. The vast majority of "
            "the content is supported by the context, with only minor and inconsequential "
            "inconsistencies or fabrications, if any."
        ),
        5: (
            "The response is completely consistent with and faithful to the provided context. "
            "All details in the response are directly supported by the context, without any "
            "hallucinated or fabricated information."
        ),
    },
)

PRESETS["response-relevance-binary"] = _metric(
    "response-relevance-binary",
    "Response Relevance (Binary)",
    (
        "Is the response directly relevant to answering the query considering the context, "
        "without including irrelevant or extraneous information?"
    ),
    ["query", "context"],
    {
        0: (
            "The response does not sufficiently address the query, either by failing to "
            "directly answer the question asked, going off-topic, or including irrelevant or "
            "extraneous information that was not requested in the original query."
        ),
        1: (
            "The response directly and sufficiently addresses the query. All of the content is "
            "relevant to answering the question asked, without going off-topic or providing "
            "unnecessary additional information beyond what the query requires."
        ),
    },
)

PRESETS["response-relevance-3point"] = _metric(
    "response-relevance-3point",
    "Response Relevance (3-point Likert)",
    (
        "How relevant and pertinent is the response to addressing the given query, without "
        "including extraneous or irrelevant information?"
    ),
    ["query", "context"],
    {
        1: (
            "The response is not relevant to the query at all. It either does not address the "
            "key points of the query or includes only irrelevant or extraneous information that "
            "does not pertain to answering the query directly."
        ),
        2: (
            "The response addresses some aspects of the query but is only partially relevant. "
            "It may go off-topic or include some tangentially related or extraneous "
            "information. Key points needed to comprehensively address the query are missing."
        ),
        3: (
            "The response is highly relevant to the query and directly addresses all the key "
            "points needed to comprehensively answer the query. No irrelevant or extraneous "
            "information is included. The response is fully pertinent to the query."
        ),
    },
)

PRESETS["response-relevance-5point"] = _metric(
    "response-relevance-5point",
    "Response Relevance (5-point Likert)",
    (
        "How well does the response address the query, providing relevant information without "
        "including anything extraneous or irrelevant?"
    ),
    ["query", "context"],
    {
        1: (
            "The response is completely irrelevant to the query, does not address it at all, or "
            "contains only extraneous information unrelated to the query."
        ),
        2: (
            "The response is mostly irrelevant to the query, addressing it only tangentially or "
            "containing significant amounts of unrelated or extraneous information."
        ),
        3: (
            "The response is somewhat relevant to the query, addressing the main point but "
            "going off-topic or including some extraneous details. Key aspects of the query may "
            "not be addressed."
        ),
        4: (
            "The response is largely relevant to the query, addressing the key points without "
            "much extraneous information. It may not cover all aspects of the query "
            "exhaustively."
        ),
        5: (
            "The response is highly relevant to the query, addressing all key aspects directly "
            "and thoroughly without any irrelevant or extraneous information."
        ),
    },
)

FLOW_JUDGE_PRESETS: dict[str, Metric] = dict(PRESETS)

# Root Judge's hallucination prompt carries its own instructions and no rubric: this metric
# names the same question for every family, with PASS (1) and FAIL (0) as its two rows.
PRESETS["hallucination-detection"] = _metric(
    "hallucination-detection",
    "Hallucination detection (pass/fail)",
    (
        "Is the answer free of hallucinations and unjustified assumptions: is every claim in "
        "it supported by the document (the context), or a reasonable inference from it?"
    ),
    ["query", "context"],
    {
        0: (
            "The answer makes at least one claim the document does not support or "
            "contradicts, or an unjustified assumption or connection."
        ),
        1: (
            "Every claim in the answer is supported by the document or is a reasonable "
            "inference from it, with no unjustified assumptions."
        ),
    },
)

# Conversations, tool calls and agent runs: edgejudge's own wording (no judge family publishes
# these rubrics). A row's `messages` give the fields (core/conversation.py): `conversation`,
# the transcript before the turn judged; `response`, the last assistant message; `tool_call`,
# the last assistant message that calls a tool; `tools`, the tools it was given.
CONVERSATION_PRESETS = ("conversation-helpfulness-5point",
    "conversation-knowledge-retention-binary", "tool-choice-binary", "tool-choice-5point",
    "task-completion-5point")  # fmt: skip


def _conversation_metric(
    name: str, title: str, criteria: str, rubric: dict[int, str], *, tools: bool = False
) -> Metric:
    if tools:
        return _metric(name, title, criteria, ["conversation", "tools"], rubric, "tool_call")
    return _metric(name, title, criteria, ["conversation"], rubric)


PRESETS["conversation-helpfulness-5point"] = _conversation_metric(
    "conversation-helpfulness-5point",
    "Conversation Helpfulness (5-point Likert)",
    (
        "Evaluate how helpful the assistant is across the whole conversation, ending with "
        "its final response: does it understand what the user wants at each turn, answer "
        "accurately and completely, ask for what it needs when the request is unclear, and "
        "move the user toward their goal without needless repetition or padding?"
    ),
    {
        1: (
            "The assistant is not helpful: it misunderstands or ignores the user's requests, "
            "gives wrong or irrelevant answers, or leaves the user no closer to their goal."
        ),
        2: (
            "The assistant is rarely helpful: it addresses some requests, but with major "
            "errors, omissions or misunderstandings that the user has to correct."
        ),
        3: (
            "The assistant is somewhat helpful: it addresses most requests, but some answers "
            "are incomplete, imprecise or padded, or it misses what an earlier turn made clear."
        ),
        4: (
            "The assistant is mostly helpful: it understands and answers the requests "
            "accurately, with only minor gaps or inefficiencies."
        ),
        5: (
            "The assistant is fully helpful: every turn understands what the user wants and "
            "answers it accurately, completely and concisely, and the final response leaves "
            "the user's need met."
        ),
    },
)

PRESETS["conversation-knowledge-retention-binary"] = _conversation_metric(
    "conversation-knowledge-retention-binary",
    "Conversation Knowledge Retention (Binary)",
    (
        "Evaluate whether the assistant's final response keeps what the user said earlier in "
        "the conversation: the facts, preferences and constraints the user gave. It must not "
        "forget them, ask for them again, or contradict them."
    ),
    {
        0: (
            "The final response forgets, asks again for, or contradicts information the user "
            "gave earlier in the conversation."
        ),
        1: (
            "The final response is consistent with everything the user said earlier, and uses "
            "it where it matters; nothing the user already gave is asked for again."
        ),
    },
)

_TOOL_CHOICE = (
    "Evaluate the tool call the assistant makes at the end of the conversation: is the tool "
    "it calls an appropriate one, among the tools it was given, for what the user asked, and "
    "do the arguments fit both the request (the right values, nothing invented) and the "
    "tool's parameter schema (names, types, required parameters)?"
)

PRESETS["tool-choice-binary"] = _conversation_metric(
    "tool-choice-binary",
    "Tool Choice (Binary)",
    _TOOL_CHOICE,
    {
        0: (
            "The call is wrong: an inappropriate or non-existent tool, or arguments that do "
            "not fit the request or the tool's schema."
        ),
        1: (
            "The call is right: an appropriate tool among those given, with arguments that "
            "fit the request and the tool's schema."
        ),
    },
    tools=True,
)

PRESETS["tool-choice-5point"] = _conversation_metric(
    "tool-choice-5point",
    "Tool Choice (5-point Likert)",
    _TOOL_CHOICE,
    {
        1: (
            "The assistant calls a tool that does not exist among those given, or one that "
            "cannot serve the request at all."
        ),
        2: (
            "The tool could serve the request, but a better-suited tool was given, or the "
            "arguments are mostly wrong: missing required parameters, wrong types, or values "
            "the user never gave."
        ),
        3: (
            "An appropriate tool, with arguments that are partly right: a value is wrong or "
            "invented, or a parameter does not fit the schema."
        ),
        4: (
            "An appropriate tool, with arguments that fit the schema and the request, apart "
            "from a minor imprecision (an optional parameter missed, a value loosely phrased)."
        ),
        5: (
            "The best tool for the request, with arguments that fit the schema exactly and "
            "carry exactly what the user asked for."
        ),
    },
    tools=True,
)

PRESETS["task-completion-5point"] = _conversation_metric(
    "task-completion-5point",
    "Task Completion (5-point Likert)",
    (
        "Evaluate an agent's run: from the user's request, the tool calls the agent made and "
        "their results, and its final response, did the final state achieve the user's goal? "
        "Judge what was actually done, as the tool results show, not what the final response "
        "claims."
    ),
    {
        1: (
            "The goal is not achieved: the agent did nothing useful, did the wrong thing, or "
            "claims a success the tool results contradict."
        ),
        2: (
            "Little of the goal is achieved: some steps toward it were taken, but the main "
            "part of the request is not done."
        ),
        3: (
            "The goal is partly achieved: the main part is done, but something the user asked "
            "for is missing or wrong."
        ),
        4: (
            "The goal is achieved, with minor flaws: an unneeded step, a small detail off, or "
            "a final response that reports the outcome imprecisely."
        ),
        5: (
            "The goal is fully achieved, as the tool results show, and the final response "
            "reports the outcome accurately."
        ),
    },
)

# Pairwise metrics, edgejudge's own: each a criteria line, which Prometheus 2 puts in brackets
# as its rubric and Selene as its rubric objective (neither family takes score rows for pairs).
PAIRWISE_PRESETS: dict[str, PairwiseMetric] = {
    metric.name: metric
    for metric in (
        PairwiseMetric(
            name="pairwise-helpfulness",
            title="Which response is more helpful (pairwise)",
            criteria=(
                "Does the response help the user with their query: does it answer it "
                "accurately, completely and clearly, without content the query did not ask for?"
            ),
            required_inputs=("query",),
        ),
        PairwiseMetric(
            name="pairwise-faithfulness",
            title="Which response is more faithful to the context (pairwise)",
            criteria=(
                "Is the response faithful to the provided context: does every claim in it "
                "follow from the context, with nothing contradicted, made up or assumed?"
            ),
            required_inputs=("query", "context"),
        ),
        PairwiseMetric(
            name="pairwise-correctness",
            title="Which response is more correct against the reference (pairwise)",
            criteria=(
                "Does the response accurately match the reference answer for the given query, "
                "without inaccurate information, missing key details or unrelated additions?"
            ),
            required_inputs=("query", "reference_answer"),
        ),
    )
}
