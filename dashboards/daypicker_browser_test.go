package dashboards_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDayPickerInChinese: the range fields read yyyy-mm-dd and their
// calendar is in Chinese (months 十一月, weekdays 周一) although the headless
// browser itself runs in English, which is what <input type=date> would
// show; picking a day moves the range and the address.
func TestDayPickerInChinese(t *testing.T) {
	base := site(t)
	ctx, console, _ := browserTab(t)
	defer screenshotOnFailure(t, ctx, "daypicker")
	if err := do(ctx, chromedp.Navigate(base+"/dash/login?next=/dash/"),
		chromedp.WaitVisible(chromedp.ID("login-form")), chromedp.SetValue(chromedp.ID("username"), "zhuren"),
		chromedp.SetValue(chromedp.ID("password"), "Browser-test-pw1"), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="overview"]`)),
		chromedp.Navigate(base+"/dash/workload?from=2026-11-01&to=2026-11-22")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, settled); err != nil {
		t.Fatal(err)
	}
	lang, err := run(ctx, chromedp.Evaluate[string](`navigator.language`))
	if err != nil {
		t.Fatal(err)
	}
	if err := do(ctx, chromedp.Click(chromedp.ID("from"))); err != nil {
		t.Fatal(err)
	}
	cal, err := run(ctx, chromedp.Poll[[]string](`(() => {
		const c = document.querySelector('.flatpickr-calendar.open');
		return c && [document.getElementById('from').value, c.querySelector('.flatpickr-weekdays').textContent.replace(/\s+/g, ''),
			c.querySelector('.flatpickr-current-month').textContent];
	})()`, chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if cal[0] != "2026-11-01" || !strings.Contains(cal[1], "周一") || !strings.Contains(cal[2], "十一月") {
		t.Errorf("browser language %s: field %q, weekdays %q, month %q; want 2026-11-01, 周一, 十一月", lang, cal[0], cal[1], cal[2])
	}
	if err := do(ctx, chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('.flatpickr-calendar.open .flatpickr-day:not(.prevMonthDay):not(.nextMonthDay)')]
		.find(d => d.textContent === '5').click()`)); err != nil {
		t.Fatal(err)
	}
	from, err := run(ctx, chromedp.Poll[string](`new URLSearchParams(location.search).get('from') === '2026-11-05' && document.getElementById('from').value`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil || from != "2026-11-05" {
		t.Errorf("after picking the 5th: field %q, %v", from, err)
	}
	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			t.Errorf("console: %s", m)
		}
	}
}
