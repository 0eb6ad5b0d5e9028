"""The shared text analyzer: Chinese, English, mixed and full-width text, stopwords, sentences, keywords."""

from __future__ import annotations

import subprocess
import sys
import threading
from importlib import resources

import pytest

from ragtasks_core.text import analyzer
from ragtasks_core.text.analyzer import (
    cjk_ratio,
    is_cjk,
    keywords,
    language_of,
    normalize,
    split_sentences,
    tokenize,
)


def test_normalize_folds_width_case_and_whitespace() -> None:
    assert normalize("  ＨＥＬＬＯ　Ｗｏｒｌｄ\n\t１２３！ ") == "hello world 123!"
    assert normalize("Straße") == "strasse"  # case folding, not lower()


def test_mixed_text_keeps_latin_words_and_numbers_whole() -> None:
    assert tokenize("禾木 Buds Pro 2 耳机") == ["禾木", "buds", "pro", "2", "耳机"]


def test_a_new_name_is_one_token_with_or_without_spaces() -> None:
    # The dictionary cuts the unknown brand into two characters; the query and the document must agree.
    assert tokenize("禾木耳机怎么充电")[:2] == ["禾木", "耳机"]


def test_chinese_is_segmented_into_words_and_stopwords_removed() -> None:
    assert tokenize("我们的退款政策是七天无理由退货。") == ["退款", "政策", "七天", "无", "理由", "退货"]
    assert tokenize("我们的退款政策是七天无理由退货。", stopwords=False) == [
        *("我们", "的", "退款", "政策", "是", "七天", "无", "理由", "退货"),
    ]
    assert tokenize("南京市长江大桥") == ["南京市", "长江大桥"]


def test_english_words_folded_and_stopwords_removed() -> None:
    assert tokenize("The refund is NOT available after 7 days.") == ["refund", "not", "available", "7", "days"]
    assert tokenize("The refund", stopwords=False) == ["the", "refund"]


def test_full_width_input_tokenizes_like_half_width() -> None:
    assert tokenize("ＧＰＴ－４ｏ 价格 ３．５ 元，ｉＰｈｏｎｅ１５") == tokenize("GPT-4o 价格 3.5 元,iPhone15")
    assert tokenize("ＧＰＴ－４ｏ 价格 ３．５ 元") == ["gpt", "4o", "价格", "3.5", "元"]


def test_punctuation_and_symbols_are_dropped() -> None:
    assert tokenize("「退货」——查看：https://x.example/a_b?c=1 ！！", stopwords=False) == [
        *("退货", "查看", "https", "x", "example", "a", "b", "c", "1"),
    ]
    assert tokenize("。，！？、……") == []
    assert tokenize("") == []


def test_negations_are_not_stopwords() -> None:
    assert tokenize("不支持退款")[0] in {"不", "不支持"}
    assert "not" in tokenize("not refundable")


def test_stopword_lists_ship_as_package_data() -> None:
    files = resources.files("ragtasks_core.text")
    zh = files.joinpath("stopwords_zh.txt").read_text(encoding="utf-8").split()
    en = files.joinpath("stopwords_en.txt").read_text(encoding="utf-8").split()
    assert "的" in zh and "the" in en
    assert {"的", "the", "什么"} <= analyzer.stopword_set()


def test_cjk_detection_and_language() -> None:
    assert is_cjk("中") and is_cjk("〇") and is_cjk("𠀀") and not is_cjk("a") and not is_cjk("，")
    assert not is_cjk("中文")
    assert cjk_ratio("") == 0.0 and cjk_ratio("123 !") == 0.0
    assert cjk_ratio("中文ab") == 0.5
    assert language_of("禾木 Buds Pro 2 耳机") == "zh"
    assert language_of("退款政策") == "zh"
    assert language_of("Contact 张三 about the refund policy") == "en"
    assert language_of("") == "en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好。我很好！真的吗？是的；再见。", ["你好。", "我很好！", "真的吗？", "是的；", "再见。"]),
        ("你好。 我很好！  真的吗？", ["你好。", "我很好！", "真的吗？"]),
        ("太好了!我们明天见?好;", ["太好了!", "我们明天见?", "好;"]),
        ("He paid 3.5 USD. Then he left! Why? OK", ["He paid 3.5 USD.", "Then he left!", "Why?", "OK"]),
        ("他说：“好的。”然后离开了。", ["他说：“好的。”", "然后离开了。"]),
        ("第一条\n第二条", ["第一条", "第二条"]),
        ("first line\nwrapped here.\n\nNext paragraph", ["first line\nwrapped here.", "Next paragraph"]),
        ("版本 1.2.3 已发布。", ["版本 1.2.3 已发布。"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_keywords_of_chinese_text_are_its_subject() -> None:
    text = "禾木 Buds Pro 2 耳机支持主动降噪。耳机充电盒支持无线充电，耳机电量低时请及时充电。"
    terms = keywords(text, top_k=3)
    assert terms[0] == "耳机"
    assert "充电" in terms
    assert all(len(term) >= 2 for term in terms)


def test_keywords_of_english_text_keep_their_case_and_skip_stopwords() -> None:
    terms = keywords("Qdrant stores vectors. Qdrant filters vectors by payload. The payload is JSON.", top_k=3)
    assert terms[0] in {"Qdrant", "vectors", "payload"}
    assert set(terms) == {"Qdrant", "vectors", "payload"}


def test_keywords_edge_cases() -> None:
    assert keywords("", top_k=5) == []
    assert keywords("退款政策", top_k=0) == []
    assert keywords("的了吗", top_k=5) == []
    assert len(keywords("退款 退货 换货 发票 物流 客服 售后", top_k=2)) == 2


def test_segmenter_loads_once_under_concurrent_first_use() -> None:
    code = (
        "import threading\n"
        "from ragtasks_core.text.analyzer import tokenize\n"
        "out = []\n"
        "ts = [threading.Thread(target=lambda: out.append(tokenize('我们的退款政策'))) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "assert all(o == ['退款', '政策'] for o in out) and len(out) == 8, out\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # quiet: no segmenter log lines on stderr


def test_importing_the_analyzer_does_not_load_the_segmenter() -> None:
    code = "import sys, ragtasks_core.text.analyzer; print('rjieba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_tokenize_is_safe_from_many_threads() -> None:
    results: list[list[str]] = []
    lock = threading.Lock()

    def work() -> None:
        tokens = tokenize("禾木 Buds Pro 2 耳机支持主动降噪")
        with lock:
            results.append(tokens)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 and all(r == results[0] for r in results)


def test_keywords_are_specific_early_terms_not_middle_words() -> None:
    terms = keywords("Hello. The bushfire near Hill Top forced hundreds of residents from their homes on Tuesday.", 3)
    assert terms[:1] == ["bushfire"] and "Hill" in terms
    # A noun the dictionary tags oddly ("积分" is "ad") is still a key term, and the most frequent one.
    assert keywords("会员积分可以在下次购物时抵扣现金，每100积分抵扣1元，积分有效期为一年。", 2)[0] == "积分"


def test_keywords_are_tokens_the_analyzer_gives() -> None:
    text = "禾木耳机的充电盒支持无线充电，耳机电量低时请及时充电。订单查询请联系客服。"
    tokens = set(tokenize(text))
    assert all(normalize(term) in tokens for term in keywords(text, 10))
    assert "禾木" in keywords(text, 10)


def test_the_package_exports_functions_even_after_every_module_is_loaded() -> None:
    # A submodule named like an exported function would replace it on the package once imported.
    code = (
        "import ragtasks_core.text as t, ragtasks_core.text.keyterms\n"
        "from ragtasks_core.text import keywords\n"
        "print(callable(keywords), len(keywords('退款政策说明', 1)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "True 1"
