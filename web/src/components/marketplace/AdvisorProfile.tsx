// An advisor's profile in a Radix dialog (focus kept inside, Escape closes, named by the
// advisor): who they are, what they know, what they hold to, where they studied and
// live, with the board toggle. Read live, so a change to the advisor shows at once.

import * as Dialog from "@radix-ui/react-dialog";
import { useQuery } from "convex/react";
import { Avatar } from "../Avatar";
import { DialogFrame } from "../DialogFrame";
import { Failsafe } from "../Failsafe";
import { BoardToggle } from "./BoardToggle";
import { marketApi } from "../../lib/api-marketplace";
import type { Education, MarketAdvisor } from "../../lib/api-marketplace";

type Props = {
  advisor: MarketAdvisor | null;
  onBoard: (id: string) => boolean;
  onClose: () => void;
  /** Where focus goes back to on closing: the button that opened it. */
  returnFocus: () => void;
};

export function AdvisorProfileDialog({ advisor, onBoard, onClose, returnFocus }: Props) {
  return (
    <Dialog.Root open={advisor !== null} onOpenChange={(open) => { if (!open) onClose(); }}>
      <DialogFrame
        closeLabel="Close profile"
        className="dialog profile-dialog"
        aria-describedby={undefined}
        onCloseAutoFocus={(event) => {
          event.preventDefault();
          returnFocus();
        }}
      >
        {advisor !== null && (
          <Failsafe fallback={<Profile advisor={advisor} onBoard={onBoard(advisor._id)} />}>
            <LiveProfile advisor={advisor} onBoard={onBoard(advisor._id)} />
          </Failsafe>
        )}
      </DialogFrame>
    </Dialog.Root>
  );
}

function LiveProfile({ advisor, onBoard }: { advisor: MarketAdvisor; onBoard: boolean }) {
  const live = useQuery(marketApi.getAdvisorById, { advisorId: advisor._id });
  return <Profile advisor={live ?? advisor} onBoard={onBoard} />;
}

function educationLine(education: Education): string {
  const degree = [education.degreeName ?? education.degreeLevel, education.major]
    .filter(Boolean)
    .join(", ");
  const where = [education.institution, education.graduationYear?.toString()]
    .filter(Boolean)
    .join(", ");
  return [degree, where].filter((part) => part !== "").join(" · ");
}

function List({ heading, items }: { heading: string; items: string[] | undefined }) {
  if (items === undefined || items.length === 0) return null;
  return (
    <section className="profile-section">
      <h3>{heading}</h3>
      <ul>
        {items.map((item) => (
          <li key={item}>{item}</li>
        ))}
      </ul>
    </section>
  );
}

function Profile({ advisor, onBoard }: { advisor: MarketAdvisor; onBoard: boolean }) {
  const persona = advisor.persona;
  const location = persona.location;
  const place = [location?.city, location?.region, location?.country].filter(Boolean).join(", ");
  const education = [persona.education, ...(persona.additionalEducation ?? [])]
    .filter((entry): entry is Education => entry !== undefined)
    .map(educationLine)
    .filter((line) => line !== "");
  const teams = (advisor.metadata?.teamAffiliations ?? []).flatMap((team) =>
    team.teamName === undefined
      ? []
      : [team.roleName === undefined ? team.teamName : `${team.roleName}, ${team.teamName}`],
  );
  return (
    <article className="profile">
      <header className="profile-head">
        <Avatar name={persona.name} imageUrl={advisor.imageUrl} size={64} />
        <div>
          <Dialog.Title className="dialog-title">{persona.name}</Dialog.Title>
          {persona.title !== undefined && <p className="muted profile-title">{persona.title}</p>}
          {persona.archetype !== undefined && <p className="small">{persona.archetype}</p>}
        </div>
      </header>
      <div className="profile-actions">
        <BoardToggle advisorId={advisor._id} name={persona.name} onBoard={onBoard} />
        {onBoard && <span className="small ok-text">On your board</span>}
      </div>
      {persona.oneLiner !== undefined && <p className="profile-lede">{persona.oneLiner}</p>}
      <dl className="profile-facts">
        {advisor.category !== undefined && (
          <>
            <dt>Category</dt>
            <dd>{advisor.category}</dd>
          </>
        )}
        {persona.experience !== undefined && (
          <>
            <dt>Experience</dt>
            <dd>{persona.experience}</dd>
          </>
        )}
        {place !== "" && (
          <>
            <dt>Location</dt>
            <dd>
              {place}
              {location?.timezone !== undefined && (
                <span className="muted"> ({location.timezone})</span>
              )}
            </dd>
          </>
        )}
        {persona.communicationStyle !== undefined && (
          <>
            <dt>Style</dt>
            <dd>{persona.communicationStyle}</dd>
          </>
        )}
      </dl>
      {persona.bio !== undefined && (
        <section className="profile-section">
          <h3>About</h3>
          <p>{persona.bio}</p>
        </section>
      )}
      {advisor.roleDefinition?.mission !== undefined && (
        <section className="profile-section">
          <h3>Mission</h3>
          <p>{advisor.roleDefinition.mission}</p>
        </section>
      )}
      <List heading="Specialties" items={persona.specialties} />
      <List heading="Expertise" items={persona.expertise} />
      <List heading="Principles" items={persona.coreBeliefsOrPrinciples} />
      <List heading="Education" items={education} />
      <List heading="Interests" items={persona.personalInterests} />
      <List heading="Teams" items={teams} />
      {advisor.tags.length > 0 && (
        <section className="profile-section">
          <h3>Tags</h3>
          <ul className="chip-list">
            {advisor.tags.map((tag) => (
              <li key={tag} className="chip">
                {tag}
              </li>
            ))}
          </ul>
        </section>
      )}
    </article>
  );
}
