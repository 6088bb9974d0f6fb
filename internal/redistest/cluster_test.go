package redistest

import "testing"

// Slot follows the Redis Cluster specification: CRC16 (XMODEM) modulo
// 16384, of the hash tag when there is a non-empty one. (TestCluster in the
// typedstore package checks it against CLUSTER KEYSLOT on a real cluster.)
func TestSlot(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"123456789", 0x31C3 % NumSlots}, // the CRC16/XMODEM check value
		{"", 0},
		{"{user1000}.following", Slot("user1000")},
		{"{user1000}.followers", Slot("user1000")},
		{"foo{{bar}}zap", Slot("{bar")}, // the tag ends at the first "}"
		{"foo{bar}{zap}", Slot("bar")},  // the first tag counts
	}
	for _, tt := range tests {
		if got := Slot(tt.key); got != tt.want {
			t.Errorf("Slot(%q) = %d; want %d", tt.key, got, tt.want)
		}
	}
}
