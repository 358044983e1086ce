package store

import "context"

// OverQuota reports whether storing add more bytes for the account would
// take its Usage beyond its quota (RFC 9208 STORAGE), for checks before a
// message arrives, such as SMTP RCPT (452 4.2.2). With add 0 it reports
// whether the account is already full (usage at or above the quota). The
// write itself still fails with ErrOverQuota if the check went stale.
func OverQuota(ctx context.Context, m Mail, a Account, add int64) (bool, error) {
	if a.QuotaBytes <= 0 {
		return false, nil
	}
	used, err := m.Usage(ctx, a.ID)
	if err != nil {
		return false, err
	}
	if add <= 0 {
		return used >= a.QuotaBytes, nil
	}
	return used+add > a.QuotaBytes, nil
}
