package federation

import (
	"time"

	"github.com/gxhub/gxhub/exchange"
)

// RequirementFiling is the body of OpRequirementFile: the consumer's own signed filing and
// what it asks for. The home hub files it by its own workflow (its provider and coordinator
// decide, on its working-day calendar) with the consumer named RemoteDepartment.
type RequirementFiling struct {
	Consumer      ConsumerRequest `json:"consumer"`
	ConsumerName  string          `json:"consumer_name"`
	ConsumerLevel exchange.Level  `json:"consumer_level"`
	Region        string          `json:"region"`
	Resource      string          `json:"resource"`
	Items         []string        `json:"items"`
	MatterCodes   []string        `json:"matter_codes"`
	LegalDuty     string          `json:"legal_duty"`
	ScopeRegion   string          `json:"scope_region,omitempty"`
}

// RequirementQuery is the body of OpRequirementGet.
type RequirementQuery struct {
	ID string `json:"id"`
}

// RequirementView is the home hub's signed account of a requirement: state and every
// decision, as its own records hold them.
type RequirementView struct {
	ID          string                    `json:"id"`
	Consumer    string                    `json:"consumer"` // RemoteDepartment at the home hub
	Provider    string                    `json:"provider"`
	Resource    string                    `json:"resource"`
	Items       []string                  `json:"items"`
	MatterCodes []string                  `json:"matter_codes"`
	LegalDuty   string                    `json:"legal_duty"`
	ScopeRegion string                    `json:"scope_region"`
	State       exchange.RequirementState `json:"state"`
	Deadline    time.Time                 `json:"deadline,omitzero"`
	Decisions   []DecisionView            `json:"decisions"`
}

// DecisionView is one decision of a RequirementView.
type DecisionView struct {
	Seq        int       `json:"seq"`
	Action     string    `json:"action"`
	By         string    `json:"by"`
	LegalBasis string    `json:"legal_basis,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	At         time.Time `json:"at"`
	Signed     bool      `json:"signed"` // the deciding department's signed request is kept at the home hub
}

// ViewOf is the home hub's view of r.
func ViewOf(r *exchange.Requirement) RequirementView {
	v := RequirementView{ID: r.ID, Consumer: r.Consumer, Provider: r.Provider, Resource: r.Resource, Items: r.Items, MatterCodes: r.MatterCodes,
		LegalDuty: r.LegalDuty, ScopeRegion: r.ScopeRegion, State: r.State, Deadline: r.Deadline}
	for _, d := range r.Decisions {
		v.Decisions = append(v.Decisions, DecisionView{Seq: d.Seq, Action: string(d.Action), By: d.By, LegalBasis: d.LegalBasis.Citation(),
			Comment: d.Comment, At: d.At, Signed: d.Evidence != ""})
	}
	return v
}

// RemoteRequirement is the consumer hub's copy of a requirement filed at a home hub: the
// latest signed view it received and the history of every view (both hubs keep the
// requirement's history).
type RemoteRequirement struct {
	ID          string                    `json:"id"` // the home hub's id
	HomeHub     string                    `json:"home_hub"`
	Agreement   string                    `json:"agreement"`
	Consumer    string                    `json:"consumer"` // the local department's code
	Resource    string                    `json:"resource"`
	Provider    string                    `json:"provider"`
	Items       []string                  `json:"items"`
	MatterCodes []string                  `json:"matter_codes"`
	State       exchange.RequirementState `json:"state"`
	View        RequirementView           `json:"view"`
	// Signed is the home hub's last signed answer carrying View (verifiable with its card).
	Signed    Envelope  `json:"signed"`
	FiledAt   time.Time `json:"filed_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int       `json:"version"`
}

// Update takes a newer view from the home hub; it reports whether anything changed.
func (r *RemoteRequirement) Update(v RequirementView, signed Envelope, now time.Time) bool {
	if r.State == v.State && len(r.View.Decisions) == len(v.Decisions) {
		return false
	}
	r.View, r.Signed, r.State, r.UpdatedAt, r.Version = v, signed, v.State, now, r.Version+1
	return true
}
