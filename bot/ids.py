"""Every action_id, callback_id and block_id the bot uses, in one place."""

from __future__ import annotations

# buttons on the spec summary
REVIEW_SPEC = "review_spec"
RECOMMEND = "recommend"
RETRY = "retry_request"

# buttons on each option
OPTION_DETAILS = "option_details"
OPTION_WHATIF = "option_whatif"
OPTION_CHOOSE = "option_choose"

# approval request
APPROVE = "approve_option"
REJECT = "reject_option"

# modals
SPEC_MODAL = "spec_modal"
WHATIF_MODAL = "whatif_modal"

# block ids of the spec modal's inputs; each maps to one spec field (see bot.parse)
INPUT_ACTION = "value"  # the action_id of every input element

# what-if modal inputs
WHATIF_GPU = "whatif_gpu"
WHATIF_MODEL = "whatif_model"
WHATIF_USERS = "whatif_users"
WHATIF_TTFT = "whatif_ttft_ms"
WHATIF_TPOT = "whatif_tpot_ms"
WHATIF_QPS = "whatif_qps"
WHATIF_PRECISION = "whatif_precision"
