# Day, month and a 24-hour clock, as the Chinese side writes them: "7 Dec 2026, 20:41", not
# Django's "Dec. 7, 2026, 8:41 p.m.", which an auditor comparing the two languages would misread.
DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
