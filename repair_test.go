package typedstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
)

// OnDecodeError decides, per undecodable session, what Get and Update do:
// fail (the default), take it for missing, delete it, or repair it, which
// writes the repaired value back keeping the time to live.
func TestOnDecodeError(t *testing.T) {
	const bad = `{"userId":"seven","name":"Ada"}`
	tests := []struct {
		action   typedstore.DecodeAction
		wantErr  error // nil: a session
		wantLeft string
	}{
		{typedstore.DecodeFail, typedstore.ErrCorrupt, bad},
		{typedstore.DecodeMissing, typedstore.ErrNotFound, bad},
		{typedstore.DecodeDelete, typedstore.ErrNotFound, ""},
		{typedstore.DecodeRepair, nil, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":false,"path":""},"userId":7,"name":"Ada"}`},
	}
	for _, tt := range tests {
		for _, how := range []string{"Get", "Update"} {
			var gotData string
			var gotErr error
			mr, _, s := newMini(t, typedstore.Options[session]{OnDecodeError: func(data []byte, err error) (session, typedstore.DecodeAction) {
				gotData, gotErr = string(data), err
				return session{UserID: 7, Name: "Ada"}, tt.action
			}})
			mr.Set("sess:k", bad)
			mr.SetTTL("sess:k", time.Hour)
			var err error
			if how == "Get" {
				var v session
				v, err = s.Get(t.Context(), "k")
				if err == nil && v.UserID != 7 {
					t.Errorf("action %d, %s: %+v; want the repaired value", tt.action, how, v)
				}
			} else {
				err = s.Update(t.Context(), "k", func(v *session) error { return nil })
			}
			if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("action %d, %s: error %v; want %v", tt.action, how, err, tt.wantErr)
			}
			if gotData != bad || gotErr == nil || strings.Contains(gotErr.Error(), "sess:k") {
				t.Errorf("action %d, %s: the hook got %q, %v; want the stored bytes and the codec's error", tt.action, how, gotData, gotErr)
			}
			left, _ := mr.Get("sess:k")
			if left != tt.wantLeft {
				t.Errorf("action %d, %s: stored %q; want %q", tt.action, how, left, tt.wantLeft)
			}
			// Get keeps the time to live; Update's write follows the rules of
			// Set, as any Update's.
			wantTTL := time.Hour
			if how == "Update" && tt.action == typedstore.DecodeRepair {
				wantTTL = typedstore.DefaultTTL
			}
			if tt.wantLeft != "" && mr.TTL("sess:k") != wantTTL {
				t.Errorf("action %d, %s: time to live %v; want %v", tt.action, how, mr.TTL("sess:k"), wantTTL)
			}
		}
	}
}

// A repaired session keeps what the stored value holds beside the type's
// members, with or without an Extra, and a newer program's version.
func TestRepairKeepsUnknownMembersAndNewerVersions(t *testing.T) {
	const stored = `{"schemaVersion":5,"userId":"x","passport":{"user":"7"}}`
	repair := func([]byte, error) (session, typedstore.DecodeAction) {
		return session{UserID: 9}, typedstore.DecodeRepair
	}
	repairExtra := func([]byte, error) (withExtra, typedstore.DecodeAction) {
		return withExtra{UserID: 9}, typedstore.DecodeRepair
	}
	mr, _, plain := newMini(t, typedstore.Options[session]{Version: 1, OnDecodeError: repair})
	mr.Set("sess:k", stored)
	if _, err := plain.Get(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	got, _ := mr.Get("sess:k")
	for _, want := range []string{`"passport":{"user":"7"}`, `"schemaVersion":5`, `"userId":9`} {
		if !strings.Contains(got, want) {
			t.Errorf("repaired %s; want %s in it", got, want)
		}
	}
	mr2, _, extra2 := newMini(t, typedstore.Options[withExtra]{Version: 1, OnDecodeError: repairExtra})
	mr2.Set("sess:k", stored)
	if _, err := extra2.Get(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	got, _ = mr2.Get("sess:k")
	for _, want := range []string{`"passport":{"user":"7"}`, `"schemaVersion":5`, `"userId":9`} {
		if !strings.Contains(got, want) {
			t.Errorf("repaired with Extra %s; want %s in it", got, want)
		}
	}
}
