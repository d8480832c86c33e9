"""The notifications capability's edge models, one module per concern (a handler imports only its own);
the value types they share. Requests build the use cases' commands (`command()`); no use case imports them."""

from __future__ import annotations

from typing import Literal

FourStates = Literal["PENDING", "SUCCESS", "FAIL", "MANUAL_VERIFIED"]  # IF-REV-013 / IF-EXT-008 四态
StrategyCode = Literal["FIRST_NOTICE", "SECOND_NOTICE", "PRE_STOP_NOTICE"]
ChannelType = Literal["SMS", "WECHAT", "INBOX"]  # 短信 / 微信公众号模板消息 / 站内信
TriggerType = Literal["AUTO", "MANUAL"]
TASK_NO = r"^CT\d{18}$"
EVENT_NO = r"^[A-Za-z0-9:_\-]{1,64}$"
