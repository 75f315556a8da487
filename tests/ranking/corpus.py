"""A small hand-made corpus: three topics of a dozen papers each, plus a few loners."""

from __future__ import annotations

from sources.models import Paper

TOPICS = {
    "ssm": (
        "selective scan state space model",
        [
            "We study the selective scan in state space models for long sequences.",
            "A linear recurrence replaces attention and keeps memory constant.",
            "Our state space model matches transformers on language modeling.",
            "Hardware-aware parallel scan kernels make the linear recurrence fast.",
            "We analyse the selective scan as input-dependent gating.",
            "Long range arena results improve with structured state space layers.",
        ],
    ),
    "robot": (
        "robot grasping with tactile sensing",
        [
            "A robot arm learns grasping of unseen objects from tactile feedback.",
            "We transfer grasping policies from simulation to a real robot.",
            "Dexterous manipulation benefits from tactile sensing at the fingertips.",
            "The gripper plans a grasp pose with a point cloud network.",
            "Our robot picks cluttered objects in a warehouse bin.",
            "Reinforcement learning trains the grasping controller in simulation.",
        ],
    ),
    "auction": (
        "auction mechanism design for ad markets",
        [
            "We design a truthful auction mechanism for online advertising.",
            "Bidders learn equilibrium strategies in repeated first price auctions.",
            "Revenue optimal mechanism design with budget constrained bidders.",
            "The auctioneer sets reserve prices from past bids.",
            "Incentive compatibility holds for our combinatorial auction.",
            "We bound the price of anarchy of generalized second price auctions.",
        ],
    ),
}


def topic_papers(topic: str, count: int = 12, offset: int = 0) -> list[Paper]:
    title, sentences = TOPICS[topic]
    papers = []
    for i in range(offset, offset + count):
        picked = [sentences[(i + k) % len(sentences)] for k in (0, 2, 3)]
        papers.append(
            Paper(
                id=f"2501.{hash_id(topic, i)}",
                title=f"{title.capitalize()}, part {i}",
                abstract=" ".join(picked) + f" Variant {i} adds experiment number {i * 7}.",
            )
        )
    return papers


def hash_id(topic: str, i: int) -> str:
    return f"{sorted(TOPICS).index(topic) + 1}{i:04d}"


def corpus() -> list[Paper]:
    return topic_papers("ssm") + topic_papers("robot") + topic_papers("auction")
