package api

import (
	"net/http"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
)

func permissionView(p directory.Permission) *apitypes.PermissionView {
	return &apitypes.PermissionView{Identity: p.Mailbox.PrimarySmtpAddress, User: p.User.PrimarySmtpAddress, AccessRights: p.Right}
}

// permissionRoutes registers the mailbox permission routes:
//
//	GET    /api/v1/tenants/{t}/mailboxes/{id}/permissions
//	POST   /api/v1/tenants/{t}/mailboxes/{id}/permissions           {User, AccessRights}
//	DELETE /api/v1/tenants/{t}/mailboxes/{id}/permissions/{user}/{right}
func (s *Server) permissionRoutes(h func(string, handlerFunc)) {
	base := "/api/v1/tenants/{t}/mailboxes/{id}/permissions"
	h("GET "+base, func(r *http.Request, p *admin.Principal) (any, error) {
		ps, err := s.Core.ListMailboxPermissions(r.Context(), p, r.PathValue("t"), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		out := make([]*apitypes.PermissionView, len(ps))
		for i := range ps {
			out[i] = permissionView(ps[i])
		}
		return out, nil
	})
	h("POST "+base, func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.PermissionAdd
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		perm, err := s.Core.AddMailboxPermission(r.Context(), p, r.PathValue("t"), r.PathValue("id"), req.User, req.AccessRights)
		if err != nil {
			return nil, err
		}
		return permissionView(*perm), nil
	})
	h("DELETE "+base+"/{user}/{right}", func(r *http.Request, p *admin.Principal) (any, error) {
		return noContent, s.Core.RemoveMailboxPermission(r.Context(), p, r.PathValue("t"), r.PathValue("id"), r.PathValue("user"), r.PathValue("right"))
	})
}
