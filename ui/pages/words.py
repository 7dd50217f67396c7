"""Bilingual (English, Chinese) words the pages show for statuses, colours, reasons and actions."""
from __future__ import annotations

STATUS_WORDS = {
    "submitted": ("Submitted", "已提交"),
    "declared": ("Declared", "已申报"),
    "compared": ("Compared", "已比对"),
    "observing": ("In isolation observation", "隔离观察中"),
    "awaiting_audit": ("Awaiting community/unit audit", "待社区（单位）审核"),
    "awaiting_applicant": ("Waiting for you to supply items", "待补充材料"),
    "approved": ("Approved", "已批准"),
    "rejected": ("Rejected", "未通过"),
    "auto_issued": ("Issued automatically after the deadline (R12)", "超时自动发码"),
    "completed": ("Completed", "已办结"),
}
COLOUR_WORDS = {
    "green": ("Green", "绿码", "Valid for passage across the province (with normal temperature).", "全省通行（体温正常）。"),
    "yellow": ("Yellow", "黄码", "Isolation observation: report your health daily; green after 14 days. Checkpoints do not let a yellow code pass.", "隔离观察：每日报告健康状况，14天后转绿码。黄码不予通行。"),
    "red": ("Red", "红码", "Not eligible; your community will contact you.", "暂不符合条件，社区将与您联系。"),
}
REASON_WORDS = {
    "forged": ("The signature does not verify: forged or altered code", "签名无效：伪造或篡改"),
    "malformed": ("Not a readable pass code or card number", "无法识别的码或卡号"),
    "unknown_key": ("Signed by a key this system does not trust", "签名密钥不可信"),
    "unknown_card": ("No pass has this card number", "无此卡号"),
    "expired": ("The pass has expired (valid 14 days)", "已过有效期（14天）"),
    "not_yet_valid": ("The pass is not valid yet", "尚未生效"),
    "revoked": ("The pass was revoked", "已撤销"),
    "yellow": ("Yellow code: in isolation observation", "黄码：隔离观察中"),
    "red": ("Red code", "红码"),
    "fever": ("Temperature at or above the fever threshold", "体温达到或超过发热标准"),
}
STEPS = (
    ("declaration", "Declaration", "申报"),
    ("comparison", "Big-data comparison", "大数据比对"),
    ("audit", "Community/unit audit", "社区（单位）审核"),
    ("pass", "Pass issued", "发码"),
)
STEP_OF_STATUS = {
    "submitted": 0, "declared": 1, "compared": 2, "observing": 2, "awaiting_audit": 2, "awaiting_applicant": 2,
    "approved": 3, "rejected": 3, "auto_issued": 3, "completed": 4,
}
ACTION_WORDS = {
    "submitted": ("Declaration submitted", "提交申报"),
    "declaration_amended": ("You amended the declaration (a new signed version, R15)", "本人更正申报（新版本，R15）"),
    "amendment_compared": ("The amended declaration was compared again", "更正后的申报已重新比对"),
    "declared": ("Declaration recorded", "申报已登记"),
    "compared": ("Big-data comparison done", "大数据比对完成"),
    "audit_assigned": ("Sent to the community/unit for audit", "转社区（单位）审核"),
    "awaiting_audit": ("Awaiting audit", "待审核"),
    "sla_started": ("Deadline clock started", "开始计时"),
    "sla_paused": ("Deadline clock paused", "暂停计时"),
    "sla_resumed": ("Deadline clock resumed", "恢复计时"),
    "claimed": ("An issuer took the case", "发放员已受理"),
    "contact_attempt": ("The issuer contacted you to verify", "发放员联系核实"),
    "supplement_requested": ("Items requested from you", "请补充材料"),
    "supplement_supplied": ("Items supplied", "已补充材料"),
    "decision_approve": ("Approved", "审核通过"),
    "decision_reject": ("Rejected", "审核未通过"),
    "decision_auto_issue": ("No opinion in time: issued automatically (R12)", "超时自动发码"),
    "auto_issue_scheduled": ("Automatic issue scheduled (R12)", "已安排自动发码"),
    "auto_issue_withheld": ("Automatic issue withheld: escalated", "不予自动发码，已上报"),
    "pass_issued": ("Pass issued", "已发码"),
    "pass_revoked": ("Pass revoked", "已撤销"),
    "pass_superseded": ("Your earlier pass was replaced by this one (one valid pass per person)", "此前的通行卡已由本卡取代（每人仅一张有效卡）"),
    "observation_started": ("Isolation observation started", "开始隔离观察"),
    "daily_report": ("Daily health report", "每日健康报告"),
    "observation_reminder": ("Reminder: a daily report is missing", "提醒：尚未健康打卡"),
    "observation_day_missed": ("A day without a report went to your community", "漏报已转社区"),
    "observation_missed_escalated": ("Consecutive missed days reported to the community head", "连续漏报已报社区负责人"),
    "observation_abnormal_resolved": ("Your community recorded the outcome of an abnormal report", "社区已处理异常报告"),
    "observation_abnormal_referred": ("Your community referred you to a fever clinic; observation held", "社区已安排到发热门诊，暂停转码"),
    "observation_cleared": ("Observation ended with every day reported: green code (R9)", "观察期满无异常，转绿码"),
    "observation_needs_audit": ("Observation ended; your community audits the case", "观察期满，转社区审核"),
    "completed": ("Case completed", "已办结"),
    "reassigned": ("The case was handed to another issuer (the deadline is unchanged)", "已改派（时限不变）"),
    "nudged": ("A supervisor reminded the issuer", "督办人已催办"),
    "notification_acknowledged": ("A supervisor acknowledged a notice about the case", "督办人已签收通知"),
}
CHANNEL_WORDS = {
    "wechat": ("Healthy Shandong Service Number (WeChat)", "健康山东服务号"),
    "app": ("Love Shandong app", "爱山东"),
    "counter": ("Community counter", "社区窗口"),
    "unit": ("Submitted by the employer", "单位代办"),
}
ID_TYPES = {
    "resident_id": ("Resident ID card", "居民身份证"),
    "passport": ("Passport", "护照"),
    "hmt_permit": ("HK/Macao/Taiwan permit", "港澳台通行证"),
}
SYMPTOM_WORDS = {
    "fever": ("Fever", "发热"),
    "cough": ("Cough", "咳嗽"),
    "sore_throat": ("Sore throat", "咽痛"),
    "fatigue": ("Fatigue", "乏力"),
    "shortness_of_breath": ("Shortness of breath", "呼吸困难"),
    "diarrhea": ("Diarrhoea", "腹泻"),
    "loss_of_taste_or_smell": ("Loss of taste or smell", "嗅觉味觉减退"),
}
CONTACT_METHODS = {"phone": ("Phone call", "电话"), "visit": ("Home visit", "上门"), "unit": ("Through the employer", "通过单位")}
OUTCOME_WORDS = {
    "clear": ("Clear", "未见异常"),
    "mismatch": ("Mismatch with records (R15)", "与记录不符"),
    "declared_ill": ("Declared fever or symptoms", "申报发热或有症状"),
    "risk_area": ("Stay in a risk area", "到过风险地区"),
    "close_contact": ("Close contact", "密切接触者"),
    "confirmed": ("Confirmed / suspected", "确诊或疑似"),
    "incomplete": ("Incomplete (a source was unavailable)", "比对不完整"),
}
DAY_WORDS = {
    "reported": ("Reported", "已报告"),
    "late": ("Reported late", "已补报"),
    "missing": ("Missing", "未报告"),
    "abnormal": ("Abnormal", "异常"),
    "upcoming": ("Upcoming", "待报告"),
    "not_due": ("Before the declaration: no report needed", "申报前，无需报告"),
}
SLA_WORDS = {
    "green": ("On time", "正常"),
    "amber": ("Less than 2 working hours left", "剩余不足2个工作小时"),
    "red": ("Overdue", "已超时"),
    "grey": ("No clock", "未计时"),
}
