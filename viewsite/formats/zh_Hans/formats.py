# Grouped by three with commas, as Chinese business reports, spreadsheets and the browser's own
# Intl.NumberFormat("zh-CN") write them (the form's live preview uses the latter): Django's
# default for zh_Hans writes 47766 ungrouped, so the same answer read two ways on one page.
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
