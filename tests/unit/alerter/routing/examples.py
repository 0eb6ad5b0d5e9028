"""Routes files the routing tests share: the issue's example verbatim, and a fuller one."""

from __future__ import annotations

# Issue 14's example, exactly as given (it must work as is).
ISSUE_EXAMPLE = """\
receivers:
  - name: team
    wecom:
      webhook_url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TEAM"
  - name: oncall
    wecom:
      webhook_url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ONCALL"
      mention_users: ["zhangsan"]        # WeCom mentioned_list
      mention_mobiles: ["13800000000"]   # WeCom mentioned_mobile_list
route:
  receiver: team
  group_by: [source, kb]
  group_wait: 0s
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
"""

FULL = """\
receivers:
  - name: team
    wecom: {webhook_url: "http://robot/send?key=TEAM"}
  - name: oncall
    wecom: {webhook_url: "http://robot/send?key=ONCALL", message_type: text, mention_users: [zhangsan]}
  - name: kb-owners
    wecom: {webhook_url_file: /run/secrets/kb-robot}
  - name: bridge
    webhook: {url: "http://bridge/hook"}
route:
  receiver: team
  group_by: [source]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 2h
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
      group_by: [source, kb]
      continue: true
    - matchers: ['source="empty_retrieval"', 'kb=~"kb-(a|b)"']
      receiver: kb-owners
      repeat_interval: 30m
      mute_time_intervals: [nights]
      routes:
        - matchers: ['kb="kb-b"']
          group_wait: 0s
    - match: {source: task_failure}
      match_re: {task: "ragtasks\\\\.summarizer\\\\..*"}
      receiver: bridge
      group_by: ['...']
inhibit_rules:
  - source_matchers: ['alertname="BrokerDown"']
    target_matchers: ['source="task_failure"']
    equal: [cluster]
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: "22:00", end_time: "24:00"}]
      - times: [{start_time: "00:00", end_time: "08:00"}]
        weekdays: ["monday:friday"]
"""
