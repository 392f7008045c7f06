package calendar

import (
	"fmt"
	"sync"
	"time"
)

//go:generate go run ./internal/lunargen -o lunar_table.go

// # Provisional years
//
// The State Council announces each year's arrangement (holidays moved next to weekends,
// make-up working days) only in the autumn before. For a year with no announcement, a
// calendar made WithProvisional computes a provisional year from the statutory public
// holidays (法定节假日) of 《全国年节及纪念日放假办法》 alone: those days are rest days by
// law whatever the notice arranges around them. The provisional year has no make-up
// working days and no bridging days, so it can only err by counting as working a day the
// notice will later give off (or the reverse for a make-up Saturday); every answer that
// used a provisional day says so.
//
// The rules, by the year they apply to:
//
//	2014–2024 (amended 2013): 元旦 1 day; 春节 3 days (正月初一 to 初三); 清明节 1;
//	                          劳动节 1 (May 1); 端午节 1; 中秋节 1; 国庆节 3 (Oct 1–3)
//	2025 on   (amended 2024): 元旦 1 day; 春节 4 days (除夕 to 正月初三); 清明节 1;
//	                          劳动节 2 (May 1–2); 端午节 1; 中秋节 1; 国庆节 3 (Oct 1–3)
//
// Lunar dates (正月初一, 五月初五, 八月十五) and the Qingming solar term come from the
// generated lunarTable (github.com/6tail/lunar-go's astronomical computation, checked by
// internal/lunargen's test), covering firstLunarYear..lastLunarYear. Years outside it have
// no provisional calendar and stay unannounced.

// Holiday names as the State Council notices write them.
const (
	NameNewYear        = "元旦"
	NameSpringFestival = "春节"
	NameQingming       = "清明节"
	NameLabourDay      = "劳动节"
	NameDragonBoat     = "端午节"
	NameMidAutumn      = "中秋节"
	NameNationalDay    = "国庆节"
)

// StatutoryDay is one statutory public holiday date.
type StatutoryDay struct {
	Date string // YYYY-MM-DD
	Name string // e.g. 春节
}

// statutoryRule is one version of 《全国年节及纪念日放假办法》.
type statutoryRule struct {
	from, to   int    // years it applies to
	desc       string // for sources and messages
	springEve  bool   // 春节 starts on 除夕
	springDays int
	labourDays int
}

var statutoryRules = []statutoryRule{
	{2014, 2024, "《全国年节及纪念日放假办法》(2013 amendment): 元旦 1, 春节 3 (初一–初三), 清明 1, 劳动节 1, 端午 1, 中秋 1, 国庆 3", false, 3, 1},
	{2025, lastLunarYear, "《全国年节及纪念日放假办法》(2024 amendment, in force 2025-01-01): 元旦 1, 春节 4 (除夕–初三), 清明 1, 劳动节 2, 端午 1, 中秋 1, 国庆 3", true, 4, 2},
}

func ruleFor(y int) *statutoryRule {
	for i := range statutoryRules {
		if r := &statutoryRules[i]; y >= r.from && y <= r.to && y >= firstLunarYear && y <= lastLunarYear {
			return r
		}
	}
	return nil
}

// HasStatutoryRule reports whether the package knows the statutory holidays of year y
// (and so can make a provisional calendar for it and check a published one).
func HasStatutoryRule(y int) bool { return ruleFor(y) != nil }

// statutoryDates returns the statutory holiday dates of y, or nil without a rule.
func statutoryDates(y int) map[date]string {
	r := ruleFor(y)
	if r == nil {
		return nil
	}
	row := lunarTable[y-firstLunarYear]
	md := func(v uint16) date { return dateFromYMD(y, time.Month(v/100), int(v%100)) }
	out := map[date]string{}
	add := func(d date, name string) {
		if other, ok := out[d]; ok {
			name = other + "、" + name // 中秋 on Oct 1–3 (2020, 2028): one day, both festivals ("国庆节、中秋节")
		}
		out[d] = name
	}
	add(dateFromYMD(y, time.January, 1), NameNewYear)
	spring := md(row[0])
	if r.springEve {
		spring-- // 除夕, the last day of the previous lunar year (always in January or February)
	}
	for i := range r.springDays {
		add(spring+date(i), NameSpringFestival)
	}
	add(md(row[1]), NameQingming)
	for i := range r.labourDays {
		add(dateFromYMD(y, time.May, 1+i), NameLabourDay)
	}
	add(md(row[2]), NameDragonBoat)
	for i := range 3 {
		add(dateFromYMD(y, time.October, 1+i), NameNationalDay)
	}
	add(md(row[3]), NameMidAutumn)
	return out
}

// Statutory returns the statutory public holidays of year y in date order, under the rule
// in force in y, or an error when the package has no rule or lunar data for y.
func Statutory(y int) ([]StatutoryDay, error) {
	ds := statutoryDates(y)
	if ds == nil {
		return nil, fmt.Errorf("calendar: no statutory holiday rule for %d (provisional years are %d–%d)", y, statutoryRules[0].from, lastLunarYear)
	}
	out := make([]StatutoryDay, 0, len(ds))
	first := dateFromYMD(y, time.January, 1)
	for d := first; d < dateFromYMD(y+1, time.January, 1); d++ {
		if n, ok := ds[d]; ok {
			out = append(out, StatutoryDay{Date: d.String(), Name: n})
		}
	}
	return out, nil
}

var provisionalTables sync.Map // int → *yearTable

// provisionalYear returns the provisional table of y, or nil when y has no rule.
func provisionalYear(y int) *yearTable {
	if t, ok := provisionalTables.Load(y); ok {
		return t.(*yearTable)
	}
	ds := statutoryDates(y)
	if ds == nil {
		return nil
	}
	first := dateFromYMD(y, time.January, 1)
	next := dateFromYMD(y+1, time.January, 1)
	t := &yearTable{first: first, flags: make([]uint8, next-first), holidays: ds,
		source: Source{Kind: SourceProvisional, Text: "provisional: statutory public holidays only, no make-up working days; " + ruleFor(y).desc}}
	for d := range ds {
		t.flags[d-first] |= flagHoliday
	}
	t.finish()
	got, _ := provisionalTables.LoadOrStore(y, t)
	return got.(*yearTable)
}
