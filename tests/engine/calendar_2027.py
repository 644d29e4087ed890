"""Made-up 2027 holiday files for tests only (the 2027 notice is not published): 1-5 January off, so that a
deadline or ladder recomputed once the year is added visibly differs from the provisional guess; no Guangxi
day in January. Each also gives the days every notice gives (the Spring Festival, 1-2 May, 1-3 October), which
a year file must have."""

from __future__ import annotations

#: The holidays of a made-up 2027 notice beside the January ones the tests turn on.
_REST_OF_2027 = """\
  - name: 春节
    notice: {notice}
    off: [2027-02-06..2027-02-12]
  - name: 劳动节
    notice: {notice}
    off: [2027-05-01..2027-05-05]
  - name: 国庆节
    notice: {notice}
    off: [2027-10-01..2027-10-07]
"""

TEST_2027_CN = """\
region: CN
year: 2027
confidence: low
confidence_note: 'test fixture, not a published schedule'
notices:
  - number: 测试〔2026〕1号
    dated: 2026-11-01
    title: test schedule of 2027年
    url: https://example.org/test
holidays:
  - name: 元旦
    notice: 测试〔2026〕1号
    off: [2027-01-01..2027-01-05]
""" + _REST_OF_2027.format(notice="测试〔2026〕1号")
TEST_2027_GX = """\
region: CN-GX
year: 2027
status: observed
confidence: low
confidence_note: 'test fixture, not a published schedule'
source:
  title: test overlay
  number: null
  basis: test
  wording: 'test'
  urls: ['https://example.org/test-gx']
off: [2027-04-08, 2027-04-09]
work: []
"""

#: 1 January off and Saturday 2 January a make-up working day: a deadline across it ends a day earlier than the
#: provisional guess, which counts that Saturday off.
TEST_2027_CN_MAKEUP = """\
region: CN
year: 2027
confidence: low
confidence_note: 'test fixture, not a published schedule'
notices:
  - number: 测试〔2026〕2号
    dated: 2026-11-01
    title: test schedule of 2027年 with a make-up working day
    url: https://example.org/test-makeup
holidays:
  - name: 元旦
    notice: 测试〔2026〕2号
    off: [2027-01-01]
    work: [2027-01-02]
""" + _REST_OF_2027.format(notice="测试〔2026〕2号")
