"""Mask schedules and the masked-token training math."""

from maskgit.masking.mvtm import MaskedBatch, mask_tokens, masked_token_accuracy, mvtm_loss, random_token_mask
from maskgit.masking.schedules import SCHEDULES, check_schedule, gamma

__all__ = [
    "SCHEDULES",
    "MaskedBatch",
    "check_schedule",
    "gamma",
    "mask_tokens",
    "masked_token_accuracy",
    "mvtm_loss",
    "random_token_mask",
]
