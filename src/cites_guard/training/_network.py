"""The network: a bag of subword unigrams and hashed bigrams, pooled, with three heads.

Why this shape: listings are short, the signal is mostly in phrases ("ox bone", "white
plastic", "tiger print"), and marketplaces need thousands of ads a second on a CPU. Mean
and max pooling over unigram embeddings plus mean pooling over hashed bigram embeddings
capture phrases at almost no cost; one hidden layer mixes them. Heads: the probability that
the ad offers a CITES specimen, the taxon group, and whether the specimen is of an Appendix I
taxon (which tells a leopard skin from a serval skin when the ad only says "spotted cat").

The same computation is written as an ONNX graph in :mod:`._export`; training checks the
two agree.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BIGRAM_PRIME", "Ensemble", "NgramClassifier"]

#: Multiplier of the bigram hash ``(left * P + right) mod buckets``; shared with the export.
BIGRAM_PRIME = 1_000_003
_NEGATIVE = 1e4


class NgramClassifier(nn.Module):
    """Pooled unigram and hashed-bigram embeddings, one hidden layer, three heads."""

    def __init__(
        self,
        *,
        vocab_size: int,
        buckets: int,
        dim: int,
        hidden: int,
        groups: int,
        pad_id: int,
    ) -> None:
        """Build the layers."""
        super().__init__()
        self.pad_id = pad_id
        self.buckets = buckets
        self.unigram = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.bigram = nn.Embedding(buckets, dim)
        self.hidden = nn.Linear(3 * dim, hidden)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(hidden, 1)
        self.group_head = nn.Linear(hidden, groups)
        nn.init.normal_(self.unigram.weight, std=0.1)
        nn.init.normal_(self.bigram.weight, std=0.05)
        with torch.no_grad():
            self.unigram.weight[pad_id].zero_()
        self.appendix_head = nn.Linear(hidden, 1)  # last: earlier layers draw as before

    def features(self, ids: torch.Tensor) -> torch.Tensor:
        """The pooled feature vector of each row of token ids."""
        mask = (ids != self.pad_id).float()
        embedded = self.unigram(ids)
        mask3 = mask.unsqueeze(2)
        count = mask.sum(1, keepdim=True).clamp(min=1.0)
        mean = (embedded * mask3).sum(1) / count
        peak = (embedded + (mask3 - 1.0) * _NEGATIVE).max(1).values
        left, right = ids[:, :-1], ids[:, 1:]
        bigram_ids = torch.remainder(left * BIGRAM_PRIME + right, self.buckets)
        bigram_mask = (mask[:, :-1] * mask[:, 1:]).unsqueeze(2)
        bigram_count = bigram_mask.sum(1).clamp(min=1.0)
        bigram_mean = (self.bigram(bigram_ids) * bigram_mask).sum(1) / bigram_count
        return torch.cat([mean, peak, bigram_mean], dim=1)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(logit [B], group_logits [B, G], appendix_logit [B])``."""
        hidden = torch.relu(self.hidden(self.features(ids)))
        hidden = self.dropout(hidden)
        return (
            self.head(hidden).squeeze(1),
            self.group_head(hidden),
            self.appendix_head(hidden).squeeze(1),
        )


class Ensemble(nn.Module):
    """Networks trained apart, their outputs averaged.

    Why: networks trained on differently seeded data disagree on many of the ads any one of
    them gets wrong (a shortcut word one of them learnt, a look-alike one of them missed),
    and each is cheap next to the evidence stage, so averaging a few buys precision and
    recall for little time.
    """

    def __init__(self, members: list[NgramClassifier]) -> None:
        """Hold ``members`` (at least one, all with the same vocabulary and groups)."""
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        shapes = {
            (m.pad_id, m.buckets, m.unigram.num_embeddings, m.group_head.out_features)
            for m in members
        }
        if len(shapes) > 1:
            raise ValueError("ensemble members differ in vocabulary, buckets or groups")
        self.members = nn.ModuleList(members)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The mean of the members' ``(logit, group_logits, appendix_logit)``."""
        outputs = [member(ids) for member in self.members]
        return (
            torch.stack([o[0] for o in outputs]).mean(0),
            torch.stack([o[1] for o in outputs]).mean(0),
            torch.stack([o[2] for o in outputs]).mean(0),
        )
