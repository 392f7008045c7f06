package federation

import "time"

// OfferedResource is a home hub's catalogue entry as it offers it to a peer.
type OfferedResource struct {
	Code        string        `json:"code"`
	Name        string        `json:"name"`
	Provider    string        `json:"provider"`
	Version     int           `json:"version"`
	ShareType   string        `json:"share_type"`
	SubjectKind string        `json:"subject_kind"`
	ScopeRegion string        `json:"scope_region"`
	Items       []OfferedItem `json:"items"`
	Withdrawn   bool          `json:"withdrawn,omitempty"`
}

// OfferedItem is one data item of an OfferedResource.
type OfferedItem struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Sensitivity string `json:"sensitivity"`
}

// CatalogQuery is the body of OpCatalog: the versions the asker already holds, so that
// the answer carries only what changed (incremental synchronisation).
type CatalogQuery struct {
	Known map[string]int `json:"known"`
}

// CatalogAnswer is the home hub's signed answer: the entries that changed since the
// asker's versions, and the codes offered now (an entry no longer offered is dropped).
type CatalogAnswer struct {
	Changed []OfferedResource `json:"changed"`
	Offered []string          `json:"offered"`
}

// RemoteResource is the consumer hub's copy of a peer's offered resource, marked with its
// home hub and kept with the home hub's signed answer it came in.
type RemoteResource struct {
	HomeHub   string          `json:"home_hub"`
	Agreement string          `json:"agreement"`
	Resource  OfferedResource `json:"resource"`
	Signed    Envelope        `json:"signed"`
	SyncedAt  time.Time       `json:"synced_at"`
}
