"""Robot markdown (WeCom, DingTalk): a long digest is split into messages under the robot's limit with every item
and the mention kept, the 督办 level is shown, and a DingTalk mobile written with separators is @-mentioned."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from engine.clock import ManualClock
from notifiers.base import Outgoing, create_channel
from notifiers.channels.dingtalk import MAX_TEXT_BYTES
from notifiers.channels.robot_markdown import split_markdown
from notifiers.channels.wecom import MAX_CONTENT_BYTES
from notifiers.dispatcher import DigestPolicy, OutboxDispatcher
from notifiers.rendering import TemplateRenderer
from storage.outbox import insert_outbox_ignore_duplicates
from tests.notifiers.conftest import SAMPLE_DATA, one_contact_directory_problems
from tests.notifiers.receivers import HttpServer
from tests.notifiers.test_dispatcher import messages

KEY = re.compile(r"GX-2026-\d{4}")


def robots(http_server: HttpServer, clock: ManualClock) -> dict[str, Any]:
    return {
        "wecom": create_channel("wecom", {"type": "wecom", "url": http_server.url("/wecom"), "key": "k"}, clock),
        "ding": create_channel("ding", {"type": "dingtalk",
                                        "webhook": http_server.url("/ding?access_token=t")}, clock),
    }


def posted(http_server: HttpServer, path: str) -> list[dict[str, Any]]:
    return [r.json() for r in http_server.received if r.path == path]


def _escalations_for_wecom(outbox_engine: Engine, clock: ManualClock, count: int) -> None:
    rows = [{"created_at": clock.now(), "channel": "wecom", "recipient": "sup", "recipient_address": "zhangwei",
             "template": "sla_escalation", "kind": "escalation", "dedupe_key": f"esc:{i}", "instance_id": str(i),
             "data": dict(SAMPLE_DATA, business_key=f"GX-2026-{i:04d}", instance_id=str(i), level=2)}
            for i in range(count)]
    with outbox_engine.begin() as conn:
        insert_outbox_ignore_duplicates(conn, rows)
    clock.advance(timedelta(seconds=10))


def test_a_digest_of_40_escalations_reaches_wecom_whole_in_parts(
    outbox_engine: Engine, clock: ManualClock, http_server: HttpServer
) -> None:
    """Forty escalations folded for a WeCom contact go out as several messages, each within 4096 bytes: all
    forty cases listed once with their 督办 level, the mention in the first, the parts numbered."""
    _escalations_for_wecom(outbox_engine, clock, 40)
    OutboxDispatcher(outbox_engine, robots(http_server, clock), TemplateRenderer(), clock,
                     digest=DigestPolicy(threshold=5)).dispatch()
    parts = [body["markdown"]["content"] for body in posted(http_server, "/wecom")]
    keys = [key for part in parts for key in KEY.findall(part)]
    assert [m.status for m in messages(outbox_engine) if m.kind == "digest"] == ["sent"]
    assert len(parts) > 1 and all(len(part.encode("utf-8")) <= MAX_CONTENT_BYTES for part in parts)
    assert sorted(keys) == [f"GX-2026-{i:04d}" for i in range(40)]
    assert sum(part.count("督办第2级") for part in parts) == 40
    assert "<@zhangwei>" in parts[0] and not any("<@zhangwei>" in part for part in parts[1:])
    numbers = [f"（第{k}/{len(parts)}条）" for k in range(1, len(parts) + 1)]
    assert [part.rsplit("\n", 1)[-1] for part in parts] == numbers


def test_a_split_message_whose_third_part_fails_goes_on_from_that_part(
    outbox_engine: Engine, clock: ManualClock, http_server: HttpServer
) -> None:
    """Eighty escalations make more than three parts. The robot refuses the third once (rate limit): the group has
    the first two, the message waits saying so, and the retry posts from the third on: every case once, no part
    twice."""
    _escalations_for_wecom(outbox_engine, clock, 80)
    refused: list[int] = []

    def busy_at_the_third_post(got: Any) -> tuple[int, bytes] | None:
        if len(http_server.received) == 3 and not refused:
            refused.append(3)
            return 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}'
        return None

    http_server.behaviour.check = busy_at_the_third_post
    dispatcher = OutboxDispatcher(outbox_engine, robots(http_server, clock), TemplateRenderer(), clock,
                                  digest=DigestPolicy(threshold=5))
    dispatcher.dispatch()
    waiting = next(m for m in messages(outbox_engine) if m.kind == "digest")
    clock.advance(timedelta(hours=1))
    dispatcher.dispatch()
    bodies = [body["markdown"]["content"] for body in posted(http_server, "/wecom")]
    delivered = bodies[:2] + bodies[3:]
    keys = [key for part in delivered for key in KEY.findall(part)]
    assert (waiting.status, waiting.parts_sent) == ("pending", 2)
    assert "parts 1-2 were delivered" in (waiting.last_error or "")
    assert len(bodies) > 4 and bodies[3] == bodies[2]  # the refused part is the first one posted again
    assert sorted(keys) == [f"GX-2026-{i:04d}" for i in range(80)]
    assert [m.status for m in messages(outbox_engine) if m.kind == "digest"] == ["sent"]


def test_the_daily_digest_of_40_items_keeps_every_item_on_wecom(http_server: HttpServer,
                                                               clock: ManualClock) -> None:
    """The daily list uses the same markdown: forty overdue items reach a WeCom group, none cut off."""
    items = [dict(SAMPLE_DATA, business_key=f"GX-2026-{i:04d}") for i in range(40)]
    rendered = TemplateRenderer().render("daily_digest", {"items": items, "count": 40, "date": "2026-11-26"})
    robots(http_server, clock)["wecom"].send(Outgoing("wecom", "sup", "-", rendered, "daily:1", "digest"))
    parts = [body["markdown"]["content"] for body in posted(http_server, "/wecom")]
    assert sorted(key for part in parts for key in KEY.findall(part)) == [f"GX-2026-{i:04d}" for i in range(40)]
    assert all(len(part.encode("utf-8")) <= MAX_CONTENT_BYTES for part in parts)


def test_a_dingtalk_digest_within_its_limit_is_one_message_with_the_mention(http_server: HttpServer,
                                                                          clock: ManualClock) -> None:
    """Forty items fit in one DingTalk message: every item, the level, and the @ in text and `at`."""
    items = [dict(SAMPLE_DATA, business_key=f"GX-2026-{i:04d}", kind="escalation", level=3) for i in range(40)]
    rendered = TemplateRenderer().render("supervisor_digest", {"items": items, "count": 40})
    robots(http_server, clock)["ding"].send(Outgoing("ding", "sup", "13800000000", rendered, "d:1", "digest"))
    [body] = posted(http_server, "/ding")
    text = body["markdown"]["text"]
    assert len(text.encode("utf-8")) <= MAX_TEXT_BYTES
    assert sorted(KEY.findall(text)) == [f"GX-2026-{i:04d}" for i in range(40)]
    assert text.count("督办第3级") == 40
    assert body["at"]["atMobiles"] == ["13800000000"] and text.endswith("@13800000000")


def test_what_no_number_of_parts_can_carry_is_counted_not_dropped() -> None:
    """Past the most parts a message may take, the last part says how many lines are left out and where to
    read them; the mention stays in the first part."""
    text = "\n".join(f"{i}. **GX-2026-{i:04d}** 数据需求申请 · 柳州市公安局 · 提供部门审批" for i in range(1, 401))
    parts = split_markdown(text, 4096, "\n<@zhangwei>", max_parts=2)
    shown = sum(len(KEY.findall(part)) for part in parts)
    left = re.search(r"另有(\d+)行因消息长度限制未列出，请登录时限系统查看完整清单。", parts[-1])
    assert len(parts) == 2 and all(len(part.encode("utf-8")) <= 4096 for part in parts)
    assert left is not None and shown + int(left.group(1)) == 400
    assert "<@zhangwei>" in parts[0]


def test_markdown_digests_show_the_escalation_level_as_the_text_does() -> None:
    """Each markdown digest line of an escalated case ends with 督办第N级, as in the mail text."""
    items = [dict(SAMPLE_DATA, business_key="GX-2026-0001", level=2), dict(SAMPLE_DATA, level=None)]
    for name in ("supervisor_digest", "daily_digest"):
        rendered = TemplateRenderer().render(name, {"items": items, "count": 2, "date": "2026-11-26"})
        lines = [line for line in rendered.markdown.splitlines() if "GX-2026-" in line]
        assert rendered.markdown.count("督办第2级") == 1 == rendered.text.count("督办第2级"), name
        assert len(lines) == 2 and lines[0].endswith(" · 督办第2级") and "督办" not in lines[1], name


@pytest.mark.parametrize("contact", ["+86-138-0000-0000", "+86 138 0000 0000", "138-0000-0000", "0086 13800000000"])
def test_a_dingtalk_mobile_with_separators_is_mentioned(contact: str, http_server: HttpServer,
                                                         clock: ManualClock) -> None:
    """A mobile written with +86 and separators is @-mentioned as its eleven digits, in `at` and the text."""
    channel = robots(http_server, clock)["ding"]
    rendered = TemplateRenderer().render("sla_breach", SAMPLE_DATA)
    channel.send(Outgoing("ding", "p1", contact, rendered, "k1", "breach"))
    [body] = posted(http_server, "/ding")
    assert channel.check_address(contact) is None
    assert body["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}
    assert body["markdown"]["text"].endswith("@13800000000")


@pytest.mark.parametrize("contact", ["zhangwei", "1380000000", "+1 415 555 0100", "138-0000-0000x", ""])
def test_dingtalk_refuses_a_contact_that_is_no_mobile_or_all(contact: str, clock: ManualClock) -> None:
    """Anything but a mainland mobile number or `@all` is refused, saying what is expected."""
    channel = create_channel("ding", {"type": "dingtalk", "webhook": "https://oapi.example/robot?access_token=t"},
                             clock)
    assert channel.check_address(contact) == (
        f"{contact!r} is not a mobile number to @-mention (e.g. 13800000000 or +86 138-0000-0000) or @all")
    assert channel.check_address("@all") is None


def test_the_directory_refuses_a_dingtalk_contact_that_is_no_mobile(tmp_path: Path) -> None:
    """A DingTalk contact that is not a mobile number stops the directory at its line."""
    problems = one_contact_directory_problems(
        tmp_path, 'ding: {type: dingtalk, webhook: "https://oapi.dingtalk.com/robot/send?access_token=x"}', "zhangwei")
    assert problems == (f"{tmp_path / 'd.yaml'}:6: people[0].contacts.ding: 'zhangwei' is not a mobile number to "
                        "@-mention (e.g. 13800000000 or +86 138-0000-0000) or @all",)


@pytest.mark.parametrize("contact", ["zhang\n<@all>", "张三", "zhang san", "a@b.cn, li", "<@all>", "_zhang",
                                     "z" * 65])
def test_wecom_refuses_a_contact_that_is_no_user_id(contact: str, clock: ManualClock) -> None:
    """A WeCom contact goes into the markdown's `<@...>` as it stands: one that is no WeCom user id (a line break
    would turn the mention into @all) is refused, saying what is expected; user ids, @all and - pass."""
    channel = create_channel("wx", {"type": "wecom", "url": "https://qyapi.example/send", "key": "k"}, clock)
    assert channel.check_address(contact) == (
        f"{contact!r} is not a WeCom user id to @-mention (1-64 letters, digits and _-@., starting with a letter "
        "or digit, e.g. ZhangSan), @all, or - for no mention")
    assert [channel.check_address(ok) for ok in ("ZhangSan", "zhang.san@dsj", "9527", "z" * 64, "@all", "-")] == \
        [None] * 6


def test_the_directory_refuses_a_wecom_contact_that_is_no_user_id(tmp_path: Path) -> None:
    """A WeCom contact holding a line break stops the directory at its line, like a DingTalk one."""
    problems = one_contact_directory_problems(tmp_path, "wx: {type: wecom, key: k}", '"zhang\\n<@all>"')
    assert problems == (
        f"{tmp_path / 'd.yaml'}:6: people[0].contacts.wx: 'zhang\\n<@all>' is not a WeCom user id to @-mention "
        "(1-64 letters, digits and _-@., starting with a letter or digit, e.g. ZhangSan), @all, or - for no mention",)
