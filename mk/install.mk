# mk/install.mk — make install / uninstall, the Debian package, and their tests.
# Included by the top-level Makefile (`-include mk/*.mk`); uses its PREFIX, BINDIR, DATADIR,
# SYSCONFDIR, DESTDIR and BUILD.
#
#   make install     [PREFIX=/usr/local] [SYSCONFDIR=/etc] [DESTDIR=] [UNITDIR=...] [MANDIR=...]
#   make uninstall   the same variables
#   make deb         dpkg-buildpackage -us -uc -b on a copy of the tree; the .deb lands in $(BUILD)/deb/
#   make test-install          tests/install/test-install.sh: DESTDIR install, tree, modes, no
#                              overwrite, systemd-analyze verify, man pages, uninstall (no root needed)
#   make test-install-e2e      tests/install/test-e2e.sh: the installed layout run as its units say,
#                              behind the installed nginx site (root; PostgreSQL, nginx, multiwatch)
#   make test-deb              tests/install/test-deb.sh: make deb, apt install ./imggen_*.deb, file
#                              list against make install's, maintainer scripts (root; changes the host)
#   make test-install-systemd  tests/install/test-systemd.sh: the package under a real systemd, in a
#                              systemd-nspawn container of this machine on a throw-away overlay (root)
#
# What goes where (PREFIX=/usr/local, SYSCONFDIR=/etc):
#   $(BINDIR)/imggen-{api,worker,admin}                      0755
#   $(DATADIR)/imggen/sql/NNNN_*.sql                         migrations; the binaries' compiled-in
#                                                            IMGGEN_SQL_DIR (checked before installing)
#   $(DATADIR)/imggen/imggen.env.example                     reference copy of the sample
#   $(DATADIR)/imggen/nginx/{imggen.conf,snippets/*.conf}    reference copies of the nginx site
#   $(SYSCONFDIR)/imggen/imggen.env                          the sample, 0640 (group imggen when that
#                                                            group exists); NEVER overwritten
#   $(NGINXDIR)/sites-available/imggen                       the production site, not enabled; only
#                                                            installed when absent (you edit it)
#   $(NGINXDIR)/snippets/imggen-{server,api,files}.conf      always replaced (do not edit them)
#   $(CRONDIR)/imggen                                        maintenance for hosts without systemd
#   $(UNITDIR)/imggen-api.{socket,service} imggen-worker.service imggen-maintenance.{service,timer}
#   $(MANDIR)/man8/imggen-{api,worker,admin}.8 $(MANDIR)/man5/imggen.env.5
# Nothing is written under /var: imggen-worker.service creates /var/lib/imggen/files
# (StateDirectory=), the Debian package's postinst creates it and the imggen user.

UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(DATADIR)/man
CRONDIR    ?= $(SYSCONFDIR)/cron.d
NGINXDIR   ?= $(SYSCONFDIR)/nginx
PKGDATADIR ?= $(DATADIR)/imggen
MULTIWATCH ?= /usr/bin/multiwatch
INSTALL    ?= install
IG_GROUP   ?= imggen

IG_STAGE   = $(BUILD)/install
IG_UNITS   = imggen-api.socket imggen-api.service imggen-worker.service \
             imggen-maintenance.service imggen-maintenance.timer
IG_MAN8    = imggen-api.8 imggen-worker.8 imggen-admin.8
IG_MAN5    = imggen.env.5
IG_SNIPPETS = $(notdir $(wildcard nginx/snippets/imggen-*.conf))
IG_STAGED  = $(addprefix $(IG_STAGE)/systemd/,$(IG_UNITS)) \
             $(addprefix $(IG_STAGE)/man/,$(IG_MAN8) $(IG_MAN5)) \
             $(IG_STAGE)/imggen.cron $(IG_STAGE)/nginx/imggen.conf

.PHONY: install uninstall deb test-install test-install-e2e test-deb test-install-systemd ig-force ig-stage \
        ig-check-sqldir

# The SQL directory is compiled into config.o (-DIMGGEN_DEFAULT_SQL_DIR): rebuild it when DATADIR
# changes, so that `make PREFIX=/usr install` after a plain `make` does not install binaries that
# look for their migrations under /usr/local. The stamp is rewritten only when its content changes.
$(BUILD)/obj/fcgi-app/lib/config.o: $(BUILD)/sqldir.stamp
$(BUILD)/sqldir.stamp: ig-force
	@mkdir -p $(dir $@)
	@printf '%s\n%s\n' '$(PKGDATADIR)/sql' '$(SYSCONFDIR)/imggen/imggen.env' >$@.tmp; \
	 if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# Everything rendered from a template depends on the installation paths.
IG_PATHS = PREFIX=$(PREFIX) BINDIR=$(BINDIR) DATADIR=$(DATADIR) PKGDATADIR=$(PKGDATADIR) \
           SYSCONFDIR=$(SYSCONFDIR) UNITDIR=$(UNITDIR) MANDIR=$(MANDIR) CRONDIR=$(CRONDIR) \
           NGINXDIR=$(NGINXDIR) MULTIWATCH=$(MULTIWATCH)
$(IG_STAGE)/paths.stamp: ig-force
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(IG_PATHS)' >$@.tmp; \
	 if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

IG_SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@PKGDATADIR@|$(PKGDATADIR)|g' \
               -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@UNITDIR@|$(UNITDIR)|g' \
               -e 's|@CRONDIR@|$(CRONDIR)|g' -e 's|@NGINXDIR@|$(NGINXDIR)|g' \
               -e 's|@MULTIWATCH@|$(MULTIWATCH)|g'
# $(call ig_render,SRC,DEST): substitute, and fail on a placeholder left over.
ig_render = mkdir -p $(dir $(2)) && $(IG_SUBST) $(1) >$(2).tmp && \
            if grep -n '@[A-Z][A-Z]*@' $(2).tmp; then echo "$(1): unknown placeholder" >&2; rm -f $(2).tmp; exit 1; fi && \
            mv $(2).tmp $(2)

$(IG_STAGE)/systemd/%: systemd/%.in $(IG_STAGE)/paths.stamp
	$(Q)$(call ig_render,$<,$@)
$(IG_STAGE)/man/%: man/% $(IG_STAGE)/paths.stamp
	$(Q)$(call ig_render,$<,$@)
$(IG_STAGE)/imggen.cron: systemd/imggen.cron.in $(IG_STAGE)/paths.stamp
	$(Q)$(call ig_render,$<,$@)
# The site includes its snippets by absolute path: point those at NGINXDIR.
$(IG_STAGE)/nginx/imggen.conf: nginx/imggen.conf $(IG_STAGE)/paths.stamp
	$(Q)mkdir -p $(dir $@) && sed 's|/etc/nginx/snippets/|$(NGINXDIR)/snippets/|g' $< >$@

ig-stage: $(IG_STAGED)

# The binaries must look for their migrations where they are installed.
ig-check-sqldir: $(BINS)
	$(Q)got=$$(env -i IMGGEN_CONFIG=/dev/null $(BUILD)/imggen-admin --check-config | sed -n 's/^IMGGEN_SQL_DIR=//p'); \
	if [ "$$got" != '$(PKGDATADIR)/sql' ]; then \
		echo "install: $(BUILD)/imggen-admin was built for IMGGEN_SQL_DIR=$$got, not $(PKGDATADIR)/sql; rebuild it (make clean, or another BUILD=)" >&2; \
		exit 1; \
	fi

install: all ig-stage ig-check-sqldir
	@echo "  INSTALL $(DESTDIR)$(PREFIX) (configuration under $(DESTDIR)$(SYSCONFDIR))"
	$(Q)umask 022; mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(CRONDIR) $(DESTDIR)$(NGINXDIR)/sites-available \
		$(DESTDIR)$(NGINXDIR)/snippets
	$(Q)$(INSTALL) -d -m 0755 $(DESTDIR)$(PKGDATADIR) $(DESTDIR)$(PKGDATADIR)/sql \
		$(DESTDIR)$(PKGDATADIR)/nginx $(DESTDIR)$(PKGDATADIR)/nginx/snippets $(DESTDIR)$(SYSCONFDIR)/imggen
	$(Q)$(INSTALL) -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	$(Q)$(INSTALL) -m 0644 $(sort $(wildcard sql/*.sql)) $(DESTDIR)$(PKGDATADIR)/sql/
	$(Q)$(INSTALL) -m 0644 imggen.env.example $(DESTDIR)$(PKGDATADIR)/imggen.env.example
	$(Q)$(INSTALL) -m 0644 $(IG_STAGE)/nginx/imggen.conf $(DESTDIR)$(PKGDATADIR)/nginx/imggen.conf
	$(Q)$(INSTALL) -m 0644 $(addprefix nginx/snippets/,$(IG_SNIPPETS)) $(DESTDIR)$(PKGDATADIR)/nginx/snippets/
	$(Q)$(INSTALL) -m 0644 $(addprefix nginx/snippets/,$(IG_SNIPPETS)) $(DESTDIR)$(NGINXDIR)/snippets/
	$(Q)$(INSTALL) -m 0644 $(addprefix $(IG_STAGE)/systemd/,$(IG_UNITS)) $(DESTDIR)$(UNITDIR)/
	$(Q)$(INSTALL) -m 0644 $(addprefix $(IG_STAGE)/man/,$(IG_MAN8)) $(DESTDIR)$(MANDIR)/man8/
	$(Q)$(INSTALL) -m 0644 $(addprefix $(IG_STAGE)/man/,$(IG_MAN5)) $(DESTDIR)$(MANDIR)/man5/
	$(Q)$(INSTALL) -m 0644 $(IG_STAGE)/imggen.cron $(DESTDIR)$(CRONDIR)/imggen
	$(Q)site=$(DESTDIR)$(NGINXDIR)/sites-available/imggen; \
	if [ -e "$$site" ]; then \
		echo "  KEEP    $$site (yours; the shipped version is $(DESTDIR)$(PKGDATADIR)/nginx/imggen.conf)"; \
	else \
		$(INSTALL) -m 0644 $(IG_STAGE)/nginx/imggen.conf "$$site"; \
	fi
	$(Q)env=$(DESTDIR)$(SYSCONFDIR)/imggen/imggen.env; \
	if [ -e "$$env" ] || [ -L "$$env" ]; then \
		echo "  KEEP    $$env (never overwritten; the sample is $(DESTDIR)$(PKGDATADIR)/imggen.env.example)"; \
	else \
		$(INSTALL) -m 0640 imggen.env.example "$$env"; \
		if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
			if getent group $(IG_GROUP) >/dev/null 2>&1; then \
				chgrp $(IG_GROUP) "$$env"; \
			else \
				echo "  NOTE    group $(IG_GROUP) does not exist: create the user (docs/operations.md, Installing), then chgrp $(IG_GROUP) $$env"; \
			fi; \
		fi; \
	fi

# Removes what install put there, except configuration you changed: imggen.env and the nginx site
# stay when they differ from the shipped versions.
uninstall: ig-stage
	@echo "  UNINSTALL $(DESTDIR)$(PREFIX)"
	$(Q)rm -f $(addprefix $(DESTDIR)$(BINDIR)/,imggen-api imggen-worker imggen-admin) \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(IG_UNITS)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(IG_MAN8)) $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(IG_MAN5)) \
		$(addprefix $(DESTDIR)$(NGINXDIR)/snippets/,$(IG_SNIPPETS)) $(DESTDIR)$(CRONDIR)/imggen
	$(Q)rm -rf $(DESTDIR)$(PKGDATADIR)
	$(Q)for pair in "$(DESTDIR)$(SYSCONFDIR)/imggen/imggen.env imggen.env.example" \
		"$(DESTDIR)$(NGINXDIR)/sites-available/imggen $(IG_STAGE)/nginx/imggen.conf"; do \
		set -- $$pair; \
		[ -e "$$1" ] || continue; \
		if cmp -s "$$1" "$$2"; then rm -f "$$1"; else echo "  KEEP    $$1 (changed locally)"; fi; \
	done
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/imggen 2>/dev/null || true

# ---------------------------------------------------------------------------------------------------
# Debian package: built from a copy of the tree (the tracked and new files, not build/ or var/), so
# that neither the work tree nor its parent directory gets dpkg-buildpackage's output.
DEB_DIR = $(abspath $(BUILD))/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src/imggen
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z -c -o --exclude-standard | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done; true' sh | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)/src/imggen; \
	else \
		tar --exclude=./build --exclude=./var --exclude=node_modules --exclude=./.git -cf - . | \
		tar -xf - -C $(DEB_DIR)/src/imggen; \
	fi
	cd $(DEB_DIR)/src/imggen && nice dpkg-buildpackage -us -uc -b
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.changes $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/
	@ls -l $(DEB_DIR)/*.deb

test-install:
	bash tests/install/test-install.sh

test-install-e2e:
	bash tests/install/test-e2e.sh

test-deb:
	bash tests/install/test-deb.sh

test-install-systemd:
	bash tests/install/test-systemd.sh
