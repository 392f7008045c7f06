package exchange

import (
	"slices"
	"strings"
	"time"
)

// deciding is one decision of Workflow.Decide under way: the requirement as it is (r) and
// as the decision leaves it (next), who decides and what they ask. Each step below checks
// who may take its action and from which states, and sets next; a step that refuses
// leaves r untouched (Decide writes next back only when the step returned nil).
type deciding struct {
	w    *Workflow
	r    *Requirement
	res  *Resource
	dept *Department
	req  DecisionRequest
	now  time.Time
	next Requirement
}

// decisionStep names the step of each action a department may request.
func decisionStep(a DecisionAction) (func(*deciding) error, error) {
	switch a {
	case ActComplete:
		return (*deciding).acceptComplete, nil
	case ActReturn:
		return (*deciding).returnIncomplete, nil
	case ActSubmit:
		return (*deciding).submit, nil
	case ActGrant:
		return (*deciding).grant, nil
	case ActRefuse:
		return (*deciding).refuse, nil
	case ActOrderShare:
		return (*deciding).orderShare, nil
	case ActConfirmRefuse:
		return (*deciding).confirmRefusal, nil
	case ActRevoke:
		return (*deciding).revoke, nil
	case ActWithdraw:
		return (*deciding).withdraw, nil
	case ActAutoGrant, ActEscalate, ActRecomputeDeadline, ActCatalogNotice:
		return nil, Errorf(KindInvalid, "ACTION_SYSTEM_ONLY", "%s is taken by the exchange itself, not requested", a)
	}
	return nil, Errorf(KindInvalid, "ACTION_INVALID", "action %q is not one of accept_complete, return_incomplete, submit, grant, refuse, order_share, confirm_refusal, revoke, withdraw", a)
}

// acceptComplete: the coordinator finds the requirement complete; the provider answers next.
func (c *deciding) acceptComplete() error {
	if err := c.coordinator(); err != nil {
		return err
	}
	if err := c.in(ReqUnderReview); err != nil {
		return err
	}
	c.next.State = ReqAwaitingProvider
	return c.w.setDeadline(&c.next, c.now, c.w.answerDays(c.res))
}

// returnIncomplete: the coordinator returns the requirement to its consumer, saying what
// is missing.
func (c *deciding) returnIncomplete() error {
	if err := c.coordinator(); err != nil {
		return err
	}
	if err := c.in(ReqUnderReview); err != nil {
		return err
	}
	if strings.TrimSpace(c.req.Comment) == "" {
		return Errorf(KindInvalid, "RETURN_REASON_REQUIRED", "say what is missing from the requirement (comment) so that the consumer can amend it")
	}
	c.next.State = ReqReturned
	return nil
}

// submit: the consumer amends a returned requirement and submits it for review again.
func (c *deciding) submit() error {
	if err := c.consumer(); err != nil {
		return err
	}
	if err := c.in(ReqReturned); err != nil {
		return err
	}
	if len(c.req.Items) > 0 {
		c.next.Items = c.req.Items
	}
	if len(c.req.MatterCodes) > 0 {
		c.next.MatterCodes = c.req.MatterCodes
	}
	if c.req.LegalDuty != "" {
		c.next.LegalDuty = c.req.LegalDuty
	}
	if c.req.ScopeRegion != "" {
		c.next.ScopeRegion = c.req.ScopeRegion
	}
	if err := checkContent(&c.next, c.res); err != nil {
		return err
	}
	c.next.State = ReqUnderReview
	return c.w.setDeadline(&c.next, c.now, c.w.Deadlines.Review)
}

// grant: the provider grants; a resource registered as not shared is the coordinator's.
func (c *deciding) grant() error {
	if err := c.provider(); err != nil {
		return err
	}
	if err := c.in(ReqAwaitingProvider, ReqEscalated); err != nil {
		return err
	}
	if c.res.ShareType == ShareNotShared {
		return Errorf(KindFailedPrecondition, "COORDINATOR_DECIDES", "resource %s is registered as not shared: only the coordinator can order sharing", c.res.Code)
	}
	c.next.State = ReqGranted
	return nil
}

// refuse: the provider refuses, citing a legal basis; never for an unconditional resource.
func (c *deciding) refuse() error {
	if err := c.provider(); err != nil {
		return err
	}
	if c.res.ShareType == ShareUnconditional {
		return Errorf(KindFailedPrecondition, "UNCONDITIONAL_REFUSAL_FORBIDDEN",
			"resource %s is shared unconditionally (无条件共享): its provider cannot refuse a requirement for it", c.res.Code)
	}
	if err := c.in(ReqAwaitingProvider); err != nil {
		return err
	}
	if err := c.legalBasis(); err != nil {
		return err
	}
	c.next.State = ReqRefused
	return nil
}

// orderShare: the coordinator orders sharing after an escalation or a refusal.
func (c *deciding) orderShare() error {
	if err := c.coordinator(); err != nil {
		return err
	}
	if err := c.in(ReqEscalated, ReqRefused); err != nil {
		return err
	}
	c.next.State = ReqGranted
	return nil
}

// confirmRefusal: the coordinator confirms an escalated refusal, citing a legal basis.
func (c *deciding) confirmRefusal() error {
	if err := c.coordinator(); err != nil {
		return err
	}
	if c.res.ShareType == ShareUnconditional {
		return Errorf(KindFailedPrecondition, "UNCONDITIONAL_REFUSAL_FORBIDDEN",
			"resource %s is shared unconditionally (无条件共享): a refusal cannot be confirmed", c.res.Code)
	}
	if err := c.in(ReqEscalated); err != nil {
		return err
	}
	if err := c.legalBasis(); err != nil {
		return err
	}
	c.next.State = ReqRefused
	return nil
}

// revoke: the consumer or a coordinator ends a grant.
func (c *deciding) revoke() error {
	if c.dept.Code != c.r.Consumer && !c.dept.HasRole(RoleCoordinator) {
		return Errorf(KindPermissionDenied, "NOT_REQUIREMENT_CONSUMER", "only the consumer %s or a coordinator may revoke requirement %s; department %s is neither", c.r.Consumer, c.r.ID, c.dept.Code)
	}
	if err := c.in(ReqGranted); err != nil {
		return err
	}
	c.next.State = ReqRevoked
	return nil
}

// withdraw: the consumer withdraws a requirement not yet decided.
func (c *deciding) withdraw() error {
	if err := c.consumer(); err != nil {
		return err
	}
	if err := c.in(ReqUnderReview, ReqReturned, ReqAwaitingProvider, ReqEscalated); err != nil {
		return err
	}
	c.next.State = ReqWithdrawn
	return nil
}

func (c *deciding) coordinator() error {
	if !c.dept.HasRole(RoleCoordinator) {
		return Errorf(KindPermissionDenied, "ROLE_REQUIRED", "only a coordinator (政务数据主管部门) may %s; department %s is not one", c.req.Action, c.dept.Code)
	}
	return nil
}

func (c *deciding) provider() error {
	if c.dept.Code != c.r.Provider {
		return Errorf(KindPermissionDenied, "NOT_REQUIREMENT_PROVIDER", "only the provider %s of requirement %s may %s it; department %s is not its provider", c.r.Provider, c.r.ID, c.req.Action, c.dept.Code)
	}
	return nil
}

func (c *deciding) consumer() error {
	if c.dept.Code != c.r.Consumer {
		return Errorf(KindPermissionDenied, "NOT_REQUIREMENT_CONSUMER", "only the consumer %s that filed requirement %s may %s it; department %s did not file it", c.r.Consumer, c.r.ID, c.req.Action, c.dept.Code)
	}
	return nil
}

func (c *deciding) legalBasis() error {
	return c.req.LegalBasis.Validate("a refusal's legal_basis (sharing is the rule, 共享为原则、不共享为例外: only a cited law, regulation, rule, superior department's provision or government approval makes an exception)")
}

// in refuses unless the requirement is in one of states.
func (c *deciding) in(states ...RequirementState) error {
	if !slices.Contains(states, c.r.State) {
		return stateErr(c.r, c.req.Action, states...)
	}
	return nil
}
