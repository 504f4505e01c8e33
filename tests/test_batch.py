"""Batched sampling (``LLM.chat_batch``, models/batch.py) on the real shipped Qwen2.5-Coder-0.5B.

What matters beyond "samples come back": each sample ends for a stated reason and reports what it
cost, samples are reproducible from their seeds, and the high-level model's cached prefix is left
exactly as it was, so a later greedy ``chat`` is unchanged. No timing assertions (2-core machines).
"""

from __future__ import annotations

import threading

import pytest

from smallcode_jupyter.models import llm as llm_mod

pytestmark = pytest.mark.model

TASK = [{"role": "user", "content": "Write a Python function is_prime(n). Reply with code only."}]
COUNT = [{"role": "user", "content": "Count from 1 to 500, one number per line."}]


@pytest.fixture(scope="module")
def model(qwen05) -> llm_mod.LLM:
    return llm_mod.load(qwen05)


def test_three_samples_end_for_a_reason_and_count_their_tokens(model):
    max_tokens = 48
    outs = model.chat_batch(TASK, n=3, prefill="```python\n", max_tokens=max_tokens, temperature=0.8,
                            seeds=[1, 2, 3], stop=["```"])  # fmt: skip
    assert len(outs) == 3
    prompt, _ = model.format(TASK)
    n_prompt = model.count_tokens(prompt + "```python\n")
    for out in outs:
        assert out.text.strip() and "```" not in out.text
        assert out.prompt_tokens == n_prompt
        assert out.finish_reason in ("stop", "length")
        assert 1 <= out.completion_tokens <= max_tokens
        if out.finish_reason == "length":
            assert out.completion_tokens == max_tokens
        # the sampled tokens re-tokenize to about as many (a stop or EOS token is counted, not shown)
        assert abs(model.count_tokens(out.text) - out.completion_tokens) <= 3
        assert out.first_token_seconds is not None and 0 < out.first_token_seconds <= out.seconds
    assert len({o.text for o in outs}) > 1  # different seeds, different samples
    again = model.chat_batch(TASK, n=3, prefill="```python\n", max_tokens=max_tokens, temperature=0.8,
                             seeds=[1, 2, 3], stop=["```"])  # fmt: skip
    assert [o.text for o in again] == [o.text for o in outs]  # reproducible from the seeds


def test_eos_ends_a_sample(model):
    outs = model.chat_batch([{"role": "user", "content": "Reply with the single word: yes"}], n=2,
                            max_tokens=32, temperature=0.5, seeds=[7, 8])  # fmt: skip
    for out in outs:
        assert out.finish_reason == "stop" and out.completion_tokens < 32
        assert "<|im_end|>" not in out.text and "yes" in out.text.lower()


def test_greedy_chat_is_unchanged_by_a_batch(model):
    before = model.chat(TASK, max_tokens=40, temperature=0)
    cached = model._llama.n_tokens
    model.chat_batch(COUNT, n=3, max_tokens=24, temperature=1.0, seeds=[4, 5, 6])
    assert model._llama.n_tokens == cached  # the high-level context and its prefix are untouched
    after = model.chat(TASK, max_tokens=40, temperature=0)
    assert after.text == before.text
    other = model.chat(COUNT, max_tokens=16, temperature=0)  # a different prompt still works
    assert other.completion_tokens > 0


def test_one_greedy_sample_equals_chat(model):
    (out,) = model.chat_batch(TASK, n=1, max_tokens=40, temperature=0, seeds=[0])
    ref = model.chat(TASK, max_tokens=40, temperature=0)
    assert out.text == ref.text and out.finish_reason == ref.finish_reason == "length"
    assert out.completion_tokens == 40 and out.prompt_tokens == ref.prompt_tokens


def test_cancel_before_and_during(model):
    cancel = threading.Event()
    cancel.set()
    outs = model.chat_batch(COUNT, n=2, max_tokens=64, temperature=0.8, seeds=[1, 2], cancel=cancel)
    assert [(o.finish_reason, o.completion_tokens) for o in outs] == [("cancelled", 1)] * 2

    cancel = threading.Event()
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    try:
        outs = model.chat_batch(COUNT, n=2, max_tokens=400, temperature=0, seeds=[1, 2], cancel=cancel)
    finally:
        timer.cancel()
    for out in outs:
        assert out.finish_reason == "cancelled" and 1 <= out.completion_tokens < 400
    assert model.chat(TASK, max_tokens=8, temperature=0).completion_tokens > 0  # still usable


def test_one_seed_per_sample(model):
    with pytest.raises(ValueError, match="one seed per sample"):
        model.chat_batch(TASK, n=2, seeds=[1])
