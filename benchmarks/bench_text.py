"""The text analyzer: segmenter choice (jieba vs rjieba), analyzer throughput, BM25 index build time.

- segmenters: ``jieba`` 0.42 and ``rjieba`` (jieba-rs) on the same text -- first-use cost (the
  dictionary build), throughput in characters/s, and word-level F1 against a small gold
  segmentation written for this project (customer-service sentences, mixed with product names).
- analyzer: ``ragtasks_core.text.analyzer.tokenize`` throughput on Chinese and on English text.
- BM25: time to tokenize and index N Chinese chunks with the analyzer and ``bm25s``, beside N
  English chunks with ``bm25s.tokenize(..., stopwords="en")``, in the same run.
Texts are generated from fixed word lists with a seeded RNG: nothing is downloaded. Prints one JSON line.

    .venv/bin/python -m benchmarks.bench_text [--chunks 10000] [--chars 2000000]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from ragtasks_core.text.analyzer import tokenize

# Gold segmentation: words separated by spaces (Peking University conventions, punctuation as tokens).
GOLD = [
    "我们 的 退款 政策 是 七 天 无 理由 退货 。",
    "请 在 订单 页面 点击 申请 售后 ， 客服 会 在 二十四 小时 内 处理 。",
    "耳机 支持 主动 降噪 ， 续航 时间 约 为 三十 小时 。",
    "充电盒 支持 无线 充电 ， 也 可以 使用 数据线 充电 。",
    "如果 商品 在 运输 途中 损坏 ， 请 拍照 后 联系 客服 。",
    "会员 积分 可以 在 下次 购物 时 抵扣 现金 。",
    "发票 会 在 订单 完成 后 发送 到 您 的 邮箱 。",
    "系统 每天 凌晨 两点 自动 备份 数据库 。",
    "如果 服务器 响应 变慢 ， 请 先 检查 磁盘 使用率 。",
    "新 用户 注册 后 可以 领取 优惠券 。",
    "我们 不 支持 货到付款 ， 请 使用 在线 支付 。",
    "快递 一般 在 三 到 五 个 工作日 内 送达 。",
    "修改 收货 地址 需要 在 发货 之前 完成 。",
    "密码 错误 超过 五 次 ， 账号 会 被 锁定 三十 分钟 。",
    "您 可以 在 个人 中心 查看 历史 订单 。",
    "这 款 手机 的 屏幕 尺寸 是 六 点 七 英寸 。",
    "退货 运费 由 买家 承担 ， 质量 问题 除外 。",
    "我们 的 客服 热线 每天 早上 九点 到 晚上 九点 在线 。",
    "请 不要 把 验证码 告诉 任何人 。",
    "检索 结果 按照 相关性 从 高 到 低 排序 。",
    "知识库 中 的 文档 会 被 切分 成 较 小 的 片段 。",
    "模型 生成 的 答案 需要 人工 审核 。",
    "告警 消息 会 发送 到 企业微信 群 。",
    "夜间 任务 会 合并 重复 的 文档 片段 。",
    "他 昨天 在 北京 参加 了 一个 技术 会议 。",
]


def _words(text: str) -> list[str]:
    return text.split()


ZH_WORDS = _words(
    "退款 政策 订单 客服 售后 耳机 降噪 续航 充电 无线 快递 发票 会员 积分 优惠券 地址 发货 工作日 "
    "账号 密码 验证码 手机 屏幕 电池 系统 备份 数据库 服务器 磁盘 内存 告警 企业微信 知识库 文档 片段 "
    "检索 模型 答案 审核 评估 召回率 用户 注册 支付 商品 运输 损坏 联系 处理 查看 修改 申请 支持 使用 "
    "需要 可以 自动 每天 小时 分钟 问题 质量 运费 买家 卖家 价格 型号 保修 维修 更换 配件 说明书 "
    "的 了 在 是 和 请 我们 您 如果 会 被 把 从 到 也 都"
)
EN_WORDS = _words(
    "refund policy order support service headphones noise battery charging wireless delivery invoice "
    "member points coupon address shipping business days account password code phone screen system "
    "backup database server disk memory alert group knowledge base document chunk retrieval model answer "
    "review evaluation recall user register payment product transport damaged contact process view change "
    "apply use need can automatically every hour minute problem quality price warranty repair replace "
    "the a of to in is and for with on be it that this by are from at"
)


def _generate(words: list[str], sep: str, end: str, length: int, rng: random.Random) -> str:
    """A pseudo-text of about ``length`` characters: sentences of 6-14 words."""
    parts: list[str] = []
    size = 0
    while size < length:
        sentence = sep.join(rng.choice(words) for _ in range(rng.randint(6, 14))) + end
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)


def chinese_chunks(n: int, length: int = 150, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [_generate(ZH_WORDS, "", "。", length, rng) + f"型号 HM-{i % 97} Pro {i % 5}。" for i in range(n)]


def english_chunks(n: int, length: int = 450, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [_generate(EN_WORDS, " ", ". ", length, rng) + f"Model HM-{i % 97} Pro {i % 5}." for i in range(n)]


def _f1(cut: Callable[[str], list[str]]) -> float:
    """Word-level F1 against GOLD: a word counts when its exact character span matches."""

    def spans(words: list[str]) -> set[tuple[int, int]]:
        out, pos = set(), 0
        for word in words:
            out.add((pos, pos + len(word)))
            pos += len(word)
        return out

    hit = predicted = expected = 0
    for line in GOLD:
        gold = spans(line.split())
        got = spans([w for w in cut(line.replace(" ", "")) if w.strip()])
        hit, predicted, expected = hit + len(gold & got), predicted + len(got), expected + len(gold)
    precision, recall = hit / predicted, hit / expected
    return round(2 * precision * recall / (precision + recall), 4)


def _throughput(func: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    func(text)
    return round(len(text) / (time.perf_counter() - started))


def segmenters(chars: int) -> dict[str, Any]:
    with warnings.catch_warnings():
        # jieba 0.42 (2020) imports the deprecated pkg_resources and has invalid escape sequences:
        # warnings that pytest's filterwarnings=error would turn into a failed smoke test.
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary build to stderr
    text = _generate(ZH_WORDS, "", "。", chars, random.Random(7))
    started = time.perf_counter()
    jieba.initialize()
    jieba_init = time.perf_counter() - started
    started = time.perf_counter()
    import rjieba

    rjieba.cut("初始化")
    rjieba_init = time.perf_counter() - started
    return {
        "jieba": {
            "first_use_seconds": round(jieba_init, 3),
            "chars_per_second": _throughput(jieba.lcut, text),
            "gold_f1": _f1(jieba.lcut),
        },
        "rjieba": {
            "first_use_seconds": round(rjieba_init, 3),
            "chars_per_second": _throughput(rjieba.cut, text),
            "gold_f1": _f1(rjieba.cut),
        },
    }


def analyzer_throughput(chars: int) -> dict[str, float]:
    zh = _generate(ZH_WORDS, "", "。", chars, random.Random(5))
    en = _generate(EN_WORDS, " ", ". ", chars, random.Random(5))
    tokenize("预热")  # the segmenter's one-time load is measured above, not here
    return {"zh_chars_per_second": _throughput(tokenize, zh), "en_chars_per_second": _throughput(tokenize, en)}


def bm25_build(chunks: int) -> dict[str, Any]:
    import bm25s

    def build(texts: list[str], tokenizer: Callable[[list[str]], Any]) -> dict[str, float]:
        started = time.perf_counter()
        tokens = tokenizer(texts)
        tokenized = time.perf_counter()
        bm25s.BM25().index(tokens, show_progress=False)
        done = time.perf_counter()
        return {"tokenize_seconds": round(tokenized - started, 4), "total_seconds": round(done - started, 4)}

    zh, en = chinese_chunks(chunks), english_chunks(chunks)
    return {
        "chunks": chunks,
        "zh_chars": sum(map(len, zh)),
        "en_chars": sum(map(len, en)),
        "zh_analyzer": build(zh, lambda texts: [tokenize(t) for t in texts]),
        "en_bm25s_tokenizer": build(en, lambda texts: bm25s.tokenize(texts, stopwords="en", show_progress=False)),
        "en_analyzer": build(en, lambda texts: [tokenize(t) for t in texts]),
    }


def measure(chunks: int = 10_000, chars: int = 2_000_000) -> dict[str, Any]:
    return {
        "segmenters": segmenters(chars),
        "analyzer": analyzer_throughput(chars),
        "bm25_index": bm25_build(chunks),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--chars", type=int, default=2_000_000)
    args = parser.parse_args(argv or [])  # ``python -m benchmarks`` passes its own argv
    print(json.dumps(measure(args.chunks, args.chars)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
