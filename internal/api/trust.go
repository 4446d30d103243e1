package api

import (
	"net/http"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

func orgRelSpec(o apitypes.OrgRel) directory.OrgRelSpec {
	return directory.OrgRelSpec{Name: o.Name, DomainNames: o.DomainNames, Enabled: o.Enabled, MailboxMoveEnabled: o.MailboxMoveEnabled,
		MailboxMoveCapability: o.MailboxMoveCapability, OAuthApplicationId: o.OAuthApplicationId, MailboxMovePublishedScopes: o.MailboxMovePublishedScopes,
		FreeBusyAccessEnabled: o.FreeBusyAccessEnabled}
}

func (s *Server) trustRoutes(h func(string, handlerFunc)) {
	t := "/api/v1/tenants/{t}"
	h("POST "+t+"/apps", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.AppCreate
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		a, err := s.Core.CreateApp(r.Context(), p, r.PathValue("t"), req.Name, req.Permissions)
		if err != nil {
			return nil, err
		}
		return created{appView(a)}, nil
	})
	h("GET "+t+"/apps", func(r *http.Request, p *admin.Principal) (any, error) {
		as, err := s.Core.ListApps(r.Context(), p, r.PathValue("t"))
		if err != nil {
			return nil, err
		}
		return listOf(as, appView), nil
	})
	h("GET "+t+"/apps/{app}", func(r *http.Request, p *admin.Principal) (any, error) {
		a, err := s.Core.GetApp(r.Context(), p, r.PathValue("t"), r.PathValue("app"))
		if err != nil {
			return nil, err
		}
		return appView(a), nil
	})
	h("DELETE "+t+"/apps/{app}", func(r *http.Request, p *admin.Principal) (any, error) {
		return noContent, s.Core.DeleteApp(r.Context(), p, r.PathValue("t"), r.PathValue("app"))
	})
	h("POST "+t+"/apps/{app}/secrets", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.AppSecretAdd
		if r.ContentLength != 0 {
			if err := s.decode(r, &req); err != nil {
				return nil, err
			}
		}
		var life time.Duration
		if req.Expires != "" {
			d, err := time.ParseDuration(req.Expires)
			if err != nil {
				return nil, errs.Invalidf("InvalidExpiry", "Expires %q is not a duration", req.Expires).WithHint("use a Go duration such as 720h")
			}
			life = d
		}
		sc, err := s.Core.AddAppSecret(r.Context(), p, r.PathValue("t"), r.PathValue("app"), life)
		if err != nil {
			return nil, err
		}
		return created{sc}, nil
	})
	h("GET "+t+"/apps/{app}/consent-url", func(r *http.Request, p *admin.Principal) (any, error) {
		q := r.URL.Query()
		u, err := s.Core.ConsentURL(r.Context(), p, r.PathValue("t"), r.PathValue("app"), q.Get("source-server"), q.Get("source-tenant"))
		if err != nil {
			return nil, err
		}
		return &apitypes.ConsentURL{ConsentUrl: u}, nil
	})

	h("POST "+t+"/consents", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.ConsentGrant
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		if req.Issuer == "" {
			return nil, errs.Invalidf("MissingField", "Issuer is required").WithHint("pass --issuer, the Issuer printed by 'tenantferry app create'")
		}
		c, err := s.Core.GrantConsent(r.Context(), p, r.PathValue("t"), req.AppId, req.Issuer, req.Permissions)
		if err != nil {
			return nil, err
		}
		return created{consentView(c)}, nil
	})
	h("GET "+t+"/consents", func(r *http.Request, p *admin.Principal) (any, error) {
		cs, err := s.Core.ListConsents(r.Context(), p, r.PathValue("t"))
		if err != nil {
			return nil, err
		}
		return listOf(cs, consentView), nil
	})
	h("DELETE "+t+"/consents/{app}", func(r *http.Request, p *admin.Principal) (any, error) {
		return noContent, s.Core.RevokeConsent(r.Context(), p, r.PathValue("t"), r.PathValue("app"))
	})

	h("POST "+t+"/orgrels", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.OrgRel
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		o, err := s.Core.CreateOrgRel(r.Context(), p, r.PathValue("t"), orgRelSpec(req))
		if err != nil {
			return nil, err
		}
		return created{orgRelView(o)}, nil
	})
	h("PATCH "+t+"/orgrels/{name}", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.OrgRel
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		if req.Name != "" {
			return nil, errs.Invalidf("ReadOnlyField", "Name cannot be changed")
		}
		o, err := s.Core.UpdateOrgRel(r.Context(), p, r.PathValue("t"), r.PathValue("name"), orgRelSpec(req))
		if err != nil {
			return nil, err
		}
		return orgRelView(o), nil
	})
	h("GET "+t+"/orgrels", func(r *http.Request, p *admin.Principal) (any, error) {
		os, err := s.Core.ListOrgRels(r.Context(), p, r.PathValue("t"))
		if err != nil {
			return nil, err
		}
		return listOf(os, orgRelView), nil
	})
	h("GET "+t+"/orgrels/{name}", func(r *http.Request, p *admin.Principal) (any, error) {
		o, err := s.Core.GetOrgRel(r.Context(), p, r.PathValue("t"), r.PathValue("name"))
		if err != nil {
			return nil, err
		}
		return orgRelView(o), nil
	})
	h("DELETE "+t+"/orgrels/{name}", func(r *http.Request, p *admin.Principal) (any, error) {
		return noContent, s.Core.DeleteOrgRel(r.Context(), p, r.PathValue("t"), r.PathValue("name"))
	})

	h("POST "+t+"/endpoints", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.EndpointCreate
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		e, err := s.Core.CreateEndpoint(r.Context(), p, r.PathValue("t"), endpointSpec(req))
		if err != nil {
			return nil, err
		}
		return created{endpointView(e)}, nil
	})
	h("GET "+t+"/endpoints", func(r *http.Request, p *admin.Principal) (any, error) {
		es, err := s.Core.ListEndpoints(r.Context(), p, r.PathValue("t"))
		if err != nil {
			return nil, err
		}
		return listOf(es, endpointView), nil
	})
	h("GET "+t+"/endpoints/{name}", func(r *http.Request, p *admin.Principal) (any, error) {
		e, err := s.Core.GetEndpoint(r.Context(), p, r.PathValue("t"), r.PathValue("name"))
		if err != nil {
			return nil, err
		}
		return endpointView(e), nil
	})
	h("PATCH "+t+"/endpoints/{name}", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.EndpointUpdate
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		e, err := s.Core.UpdateEndpoint(r.Context(), p, r.PathValue("t"), r.PathValue("name"), endpointUpdate(req))
		if err != nil {
			return nil, err
		}
		return endpointView(e), nil
	})
	h("DELETE "+t+"/endpoints/{name}", func(r *http.Request, p *admin.Principal) (any, error) {
		return noContent, s.Core.DeleteEndpoint(r.Context(), p, r.PathValue("t"), r.PathValue("name"))
	})
}

// endpointSpec is the directory's form of an endpoint create request.
func endpointSpec(r apitypes.EndpointCreate) directory.EndpointSpec {
	return directory.EndpointSpec{Name: r.Name, Type: r.Type, RemoteServer: r.RemoteServer, RemoteTenant: r.RemoteTenant,
		ApplicationId: r.ApplicationId, Secret: r.Secret, MaxConcurrentMigrations: r.MaxConcurrentMigrations,
		MaxConcurrentIncrementalSyncs: r.MaxConcurrentIncrementalSyncs, MaxBytesPerSecond: r.MaxBytesPerSecond, Security: r.Security,
		CalDAVURL: r.CalDAVURL, CardDAVURL: r.CardDAVURL, OAuthTokenURL: r.OAuthTokenURL, OAuthScope: r.OAuthScope,
		OAuthGrant: r.OAuthGrant, OAuthMechanism: r.OAuthMechanism}
}

// endpointUpdate is the directory's form of an endpoint set request.
func endpointUpdate(r apitypes.EndpointUpdate) directory.EndpointUpdate {
	return directory.EndpointUpdate{RemoteServer: r.RemoteServer, RemoteTenant: r.RemoteTenant, ApplicationId: r.ApplicationId,
		Secret: r.Secret, MaxConcurrentMigrations: r.MaxConcurrentMigrations, MaxConcurrentIncrementalSyncs: r.MaxConcurrentIncrementalSyncs,
		MaxBytesPerSecond: r.MaxBytesPerSecond, Security: r.Security, CalDAVURL: r.CalDAVURL, CardDAVURL: r.CardDAVURL,
		OAuthTokenURL: r.OAuthTokenURL, OAuthScope: r.OAuthScope, OAuthGrant: r.OAuthGrant, OAuthMechanism: r.OAuthMechanism}
}
