"""A prompt longer than the model's window: how each kind of server says so, and the metric.

The fake OpenAI server answers as OpenAI, vLLM, Ollama and Qwen's compatible mode do; the real
``openai`` client parses the answer, as in production.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from ragtasks_core.llm import (
    ContextLengthExceeded,
    LLMClient,
    PermanentLLMError,
    TransientLLMError,
    is_context_exceeded,
)
from ragtasks_core.settings import Settings
from tests.support.fake_openai import FakeOpenAI

PROMPT = [{"role": "user", "content": "客户说耳机有杂音，想要退货。" * 200}]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(window_tokens=1000).start()
    yield fake
    fake.stop()


def client_for(server: FakeOpenAI, model: str) -> LLMClient:
    return LLMClient(Settings(llm_base_url=server.base_url, llm_api_key="sk-test", llm_model=model))  # type: ignore[arg-type]


def exceeded_count(model: str) -> float:
    return REGISTRY.get_sample_value("ragtasks_llm_context_exceeded_total", {"model": model}) or 0.0


@pytest.mark.parametrize("style", ["openai", "vllm", "ollama", "qwen"])
def test_each_servers_refusal_is_context_length_exceeded(server: FakeOpenAI, style: str) -> None:
    server.window_style = style
    model = f"ctx-{style}"
    llm = client_for(server, model)
    before = exceeded_count(model)
    with pytest.raises(ContextLengthExceeded) as caught:
        llm.chat(PROMPT, max_tokens=100)
    assert str(caught.value).startswith("context_length_exceeded: LLM HTTP 400")
    assert exceeded_count(model) == before + 1
    assert server.refused_sizes and server.refused_sizes[0] > 1000 - 100
    # Within the window, the same server answers.
    assert llm.chat([{"role": "user", "content": "你好"}], max_tokens=100).text
    llm.close()


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "context_length_exceeded", "Your input exceeds the context window of this model."),
        (400, 400, "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens"),
        (400, None, "The decoder prompt (length 9000) is longer than the maximum model length of 8192."),
        (400, None, "The input (5000 tokens) is longer than the model's context length (4096 tokens)."),
        (400, "exceed_context_size_error", "the request exceeds the available context size, try increasing it"),
        (500, None, "the input length exceeds the context length"),
        (400, "InvalidParameter", "Input length 203743 exceeds the maximum length 202752"),
        (422, None, "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 5000"),
        (400, None, "max_tokens must be at least 1, got -186."),
        (
            400,
            "invalid_parameter_error",
            "<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 30720]",
        ),
    ],
)
def test_provider_forms_are_recognised(status: int, code: object, message: str) -> None:
    assert is_context_exceeded(status, code, message)


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "invalid_request_error", "Invalid value for 'temperature'"),
        (401, "invalid_api_key", "Incorrect API key provided"),
        (429, "rate_limit_exceeded", "Rate limit reached; maximum context length is irrelevant here"),
        (503, None, "server overloaded"),
    ],
)
def test_other_errors_are_not(status: int, code: object, message: str) -> None:
    assert not is_context_exceeded(status, code, message)


def test_context_exceeded_is_permanent_not_transient() -> None:
    assert issubclass(ContextLengthExceeded, PermanentLLMError)
    assert not issubclass(ContextLengthExceeded, TransientLLMError)
